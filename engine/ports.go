package engine

import (
	"context"
	"iter"
	"time"
)

// Store is the persistence Service needs; engine/badgerstore.DB satisfies it.
// Unless a method says otherwise, an unknown user is ErrNotFound. Writes that
// carry Effects write them in the same transaction, and are on disk before
// the method returns.
type Store interface {
	// PutUser creates or updates a user's profile, keeping derived fields.
	PutUser(ctx context.Context, id UserID, p Profile, now time.Time) (User, error)
	User(ctx context.Context, id UserID) (User, error)
	// Subject returns the facts about id that consent depends on.
	Subject(ctx context.Context, id UserID) (Subject, error)

	// AddIdentity links ident to id. Returns an *IdentityConflict (ErrConflict)
	// when another user holds it; linking it again to its owner is a no-op.
	AddIdentity(ctx context.Context, id UserID, ident Identity, fx Effects) error
	ResolveIdentity(ctx context.Context, ident Identity) (UserID, error)
	Merge(ctx context.Context, m Merge) error

	// AppendConsents appends records (ids and times already set) to id's ledger.
	AppendConsents(ctx context.Context, id UserID, records []ConsentRecord, fx Effects) error
	// Consents returns id's ledger in append order; with purpose set, only
	// that purpose's records.
	Consents(ctx context.Context, id UserID, purpose Purpose) ([]ConsentRecord, error)
	// ConsentSubject returns, in one read, the facts about id that consent
	// depends on and id's records of purpose in append order.
	ConsentSubject(ctx context.Context, id UserID, purpose Purpose) (Subject, []ConsentRecord, error)
	// UserConsents is User without the identities and id's records of
	// purpose, in one read: what a recommendation reads before its consent
	// decision.
	UserConsents(ctx context.Context, id UserID, purpose Purpose) (User, []ConsentRecord, error)
	// ConsentSubjects is ConsentSubject for many users in one read; out[i]
	// is about ids[i], and an unknown user is not an error but Found false.
	ConsentSubjects(ctx context.Context, ids []UserID, purpose Purpose) ([]SubjectRecords, error)

	PutNotice(ctx context.Context, n Notice) error
	// Notices returns every notice in publication order.
	Notices(ctx context.Context) ([]Notice, error)

	// Preferences returns id's preferences, or DefaultPreferences with
	// Version 0 when none were set.
	Preferences(ctx context.Context, id UserID) (Preferences, error)
	// UpdatePreferences runs fn on the current preferences inside a
	// transaction and stores what it returns, with its effects. fn may run
	// more than once and must not call the store.
	UpdatePreferences(ctx context.Context, id UserID, fn func(Preferences) (Preferences, Effects, error)) (Preferences, error)

	Interests(ctx context.Context, id UserID) (Interests, error)
	// DeletedInterests returns only the tags id deleted (cheaper).
	DeletedInterests(ctx context.Context, id UserID) ([]string, error)
	// DeleteInterest removes tag and adds it to the deleted list.
	DeleteInterest(ctx context.Context, id UserID, tag string, fx Effects) error

	// QueueActivity adds entries to usage logs without waiting for disk;
	// Activity sees them. For the entries of the hot path (recommendations).
	QueueActivity(entries ...ActivityEntry)
	AppendActivity(ctx context.Context, entries ...ActivityEntry) error
	// Activity returns id's usage log, newest first, from cursor ("" for the
	// newest), and the cursor of the next page ("" at the end).
	Activity(ctx context.Context, id UserID, cursor string, limit int) ([]ActivityEntry, string, error)

	// LogDecision queues d for the decision log without waiting for disk.
	LogDecision(d Decision)
	Decision(ctx context.Context, id string) (Decision, error)
	// RecentDecisions returns up to limit logged decisions, newest first.
	RecentDecisions(ctx context.Context, limit int) ([]Decision, error)

	// PutItems creates or replaces catalog items.
	PutItems(ctx context.Context, items []Item) error
	// Items returns the items of ids that exist.
	Items(ctx context.Context, ids []ItemID) (map[ItemID]Item, error)
	// ScanItems yields every item, in id order.
	ScanItems(ctx context.Context) iter.Seq2[Item, error]

	// AppendEvents writes a decided batch (events, derived user updates,
	// interests, usage log) in one synced transaction, or nothing. Events
	// and updates of users that no longer exist are skipped.
	AppendEvents(ctx context.Context, b EventBatch) error
	// Events returns id's newest limit events (0: all), oldest first.
	Events(ctx context.Context, id UserID, limit int) ([]Event, error)
	// PersonalData returns in one read what a personalized list reads once
	// its consent decision is made: id's newest limit events (0: all) that
	// keep accepts, oldest first, the tags id deleted and id's preferences.
	PersonalData(ctx context.Context, id UserID, limit int, keep func(Event) bool) (PersonalData, error)
	// ScanEvents yields every stored event, user by user, each user's
	// oldest first.
	ScanEvents(ctx context.Context) iter.Seq2[Event, error]

	// Erase deletes everything held about id and keeps proof.
	Erase(ctx context.Context, id UserID, proof ErasureProof, fx Effects) error

	// PolicyModules returns the policy modules stored by PutPolicyModule.
	PolicyModules(ctx context.Context) (map[string]string, error)
	PutPolicyModule(ctx context.Context, name, text string) error

	DeliveryStore
}

// SubjectRecords are what Store.ConsentSubjects read about one user: the
// facts consent depends on and the user's records of one purpose, in append
// order. Found is false for an unknown user.
type SubjectRecords struct {
	Found   bool
	Subject Subject
	Records []ConsentRecord
}

// PersonalData is what Store.PersonalData reads.
type PersonalData struct {
	Events      []Event
	Deleted     []string
	Preferences Preferences
}

// An IdentityConflict reports an identity held by another user.
type IdentityConflict struct{ Owner UserID }

func (e *IdentityConflict) Error() string { return "identity belongs to another user" }
func (e *IdentityConflict) Unwrap() error { return ErrConflict }

// Gate evaluates the Rego policies; policies.Set satisfies it. Methods are
// safe for concurrent use.
type Gate interface {
	Authorize(ctx context.Context, r AccessRequest) (Verdict, error)
	Consent(ctx context.Context, q ConsentQuestion) (Verdict, error)
	// ConsentBatch answers each question as Consent would, in order, in
	// as few policy evaluations as it can: callers with several questions
	// at hand ask them together.
	ConsentBatch(ctx context.Context, qs []ConsentQuestion) ([]Verdict, error)
	ConsentWrite(ctx context.Context, w ConsentWrite) (Verdict, error)
	Collect(ctx context.Context, r CollectRequest) (Verdict, error)
	// Delivery makes the send-time decision about one campaign message.
	Delivery(ctx context.Context, q DeliveryQuestion) (DeliveryVerdict, error)
	// ShippedDelivery reports whether the set in force decides as the
	// shipped one, of which DecideDelivery is the hand-written reference
	// for deliveries: the planner then foresees decisions with it.
	ShippedDelivery() bool

	// Query evaluates any rule, for POST /v1/decisions.
	Query(ctx context.Context, path string, input any) (any, error)
	// Revision names the policy set in force.
	Revision() string
	// Modules returns the source of every module in force.
	Modules() map[string]string
	// Replace compiles the set with module name replaced and runs its Rego
	// tests; on success the new set takes effect. Returns ErrInvalid for a
	// bad module name and a *PolicyError (ErrPolicyReject) when the set does
	// not compile or its tests fail; the old set stays.
	Replace(ctx context.Context, name, text string) error
}

// A Verdict is a policy's answer.
type Verdict struct {
	Allow    bool
	Reasons  []string
	Status   Status // consent decisions: the state in force
	RecordID string // consent decisions: the deciding record
}

// An AccessRequest asks whether a caller may perform an action.
type AccessRequest struct {
	Role    Role   `json:"role"`
	Subject UserID `json:"subject,omitempty"` // the shopper a token is for
	Action  string `json:"action"`            // e.g. "consents.write"
	Owner   UserID `json:"owner,omitempty"`   // the user whose data it touches
}

// A ConsentQuestion asks whether the user's ledger allows an action now.
type ConsentQuestion struct {
	Scope   Scope           `json:"scope"`
	Subject Subject         `json:"subject"`
	Notice  NoticeRule      `json:"notice"`
	Records []ConsentRecord `json:"records"` // the user's records of Scope.Purpose, append order
	Now     time.Time       `json:"now"`
}

// A ConsentWrite asks whether a batch of records may be recorded for a user.
type ConsentWrite struct {
	Role    Role            `json:"role"`
	Subject Subject         `json:"subject"`
	Records []ConsentRecord `json:"records"`
}

// A CollectRequest asks whether an event may be stored for a user.
type CollectRequest struct {
	EventType  string     `json:"event_type"`
	Touchpoint Touchpoint `json:"touchpoint,omitempty"`
	Signal     Signal     `json:"signal,omitempty"` // the personalization signal it feeds
	// SignalAllowed and AnalyticsAllowed are the consent decisions for the
	// signal and for analytics at the event's touchpoint.
	SignalAllowed    bool `json:"signal_allowed"`
	AnalyticsAllowed bool `json:"analytics_allowed"`
}

// An Actor is the authenticated caller of a request.
type Actor struct {
	Role    Role
	Subject UserID // for shopper tokens
	KeyID   string // a short, non-secret label of the key used
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the caller carried by ctx. Without one it returns an
// actor with no role, which every policy denies: a path that forgot to say
// who is calling fails closed. heed's own work uses SystemContext.
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// SystemContext returns ctx acting as heed itself (scheduler, workers, CLI).
func SystemContext(ctx context.Context) context.Context {
	return WithActor(ctx, Actor{Role: RoleSystem})
}

type decisionKey struct{}

// WithDecisionID returns ctx carrying the id of the decision that allowed the
// request, so the usage-log entries the request writes can cite it.
func WithDecisionID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, decisionKey{}, id)
}

// DecisionIDFrom returns the decision id carried by ctx, or "".
func DecisionIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(decisionKey{}).(string)
	return id
}

// DeliveryFacts are what a send-time decision about one contact reads, in
// one consistent view.
type DeliveryFacts struct {
	Found   bool // the user exists (an erased user does not)
	User    User // without identities: the decision needs none
	Prefs   Preferences
	Records []ConsentRecord // the user's marketing records, append order
	// Recent are the user's sends of the last eight days, oldest first,
	// for the channel and marketing caps.
	Recent []SentMessage
	// CampaignSends are when the user was sent the contact's campaign,
	// oldest first, for the campaign's cap.
	CampaignSends []time.Time
	// Delivery is the contact's ledger entry; Exists says whether there is one.
	Delivery Delivery
	Exists   bool
}

// DeliveryStore is the part of Store the delivery ledger needs;
// engine/badgerstore.DB satisfies it.
type DeliveryStore interface {
	// UpdateDelivery reads the facts about c, passes them to decide, and,
	// when decide says write, stores the delivery it returns with its
	// effects (a sent or claimed delivery also joins the user's recent
	// sends). No other write of the user's consent, preferences or
	// deliveries interleaves between the read and the write, so caps and
	// withdrawals are atomic with the decision. decide runs once. Nothing
	// is written for a user who does not exist.
	UpdateDelivery(ctx context.Context, c Contact, decide func(DeliveryFacts) (d Delivery, fx Effects, write bool, err error)) (Delivery, error)
	// ScheduleDeliveries stores entries for contacts that have none yet and
	// whose users exist, and returns how many it stored.
	ScheduleDeliveries(ctx context.Context, ds []Delivery) (int, error)
	// Delivery returns the ledger entry with key (Contact.DeliveryKey).
	Delivery(ctx context.Context, key string) (Delivery, error)
	// Deliveries returns campaign's entries in key order after cursor (""
	// for the first), at most limit, keeping those keep accepts, and the
	// cursor of the next page ("" at the end).
	Deliveries(ctx context.Context, campaign, cursor string, limit int, keep func(*Delivery) bool) ([]Delivery, string, error)
	// DueDeliveries returns up to limit entries that are not final and
	// are due (scheduled, deferred or awaiting a retry) at or before t,
	// earliest first.
	DueDeliveries(ctx context.Context, t time.Time, limit int) ([]Delivery, error)
	// UserDeliveries returns id's entries, for attributing purchases.
	UserDeliveries(ctx context.Context, id UserID) ([]Delivery, error)
	// UpdateDeliveryEntry runs fn on the entry with key and stores what it
	// returns, with its effects; ErrNotFound if there is none.
	UpdateDeliveryEntry(ctx context.Context, key string, fn func(Delivery) (Delivery, Effects, error)) (Delivery, error)
}

// UserFacts are what planning a campaign reads about one user.
type UserFacts struct {
	User    User
	Prefs   Preferences
	Records []ConsentRecord // marketing records, append order
	// Categories are the user's categories of interest: preference
	// categories, then category interest tags ("category:shoes" → "shoes").
	Categories []string
	Recent     []SentMessage // sends of the last eight days, for caps
}

// A FactsQuery asks for the facts of the users with ids after After (""
// from the first) up to and including Upto ("" to the end), at most Limit
// of them (0: all). Interest tags are read only with Interests: planning
// needs them only for audiences by category, and they cost a good part of
// the scan.
type FactsQuery struct {
	After, Upto UserID
	Limit       int
	Interests   bool
}

// AudienceStore is what planning reads; engine/badgerstore.DB satisfies it.
type AudienceStore interface {
	// UserBounds returns every n-th user id in id order: the last ids of
	// consecutive chunks of n users (the last chunk may be shorter and is
	// not named: it runs to the end).
	UserBounds(ctx context.Context, n int) ([]UserID, error)
	// ScanUserFacts returns, in id order, the facts of the users of q.
	ScanUserFacts(ctx context.Context, q FactsQuery) ([]UserFacts, error)
}
