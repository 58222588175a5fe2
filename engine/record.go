package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"
)

// NewID returns a fresh id with the given prefix: 12 hex digits of Unix
// milliseconds, then 16 random hex digits, so ids sort by creation time.
func NewID(prefix string) string {
	var b [14]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	rand.Read(b[6:])
	return prefix + hex.EncodeToString(b[:])
}

// A Notice is one published version of the privacy notice for a purpose.
type Notice struct {
	Purpose           Purpose   `json:"purpose"`
	Version           string    `json:"version"`
	TextURL           string    `json:"text_url,omitempty"`
	RequiresReconsent bool      `json:"requires_reconsent"`
	PublishedAt       time.Time `json:"published_at"`
}

// NoticeRules derives, per purpose, which notice versions a grant must carry:
// the versions published since the latest one that requires re-consent. notices
// must be in publication order.
func NoticeRules(notices []Notice) map[Purpose]NoticeRule {
	rules := make(map[Purpose]NoticeRule)
	for _, n := range notices {
		r := rules[n.Purpose]
		switch {
		case n.RequiresReconsent:
			r.Valid = []string{n.Version}
		case r.Valid != nil:
			r.Valid = append(r.Valid, n.Version)
		}
		rules[n.Purpose] = r
	}
	return rules
}

// Activity actions: what a usage-log entry records.
const (
	ActionConsentChange    = "consent_change"
	ActionPreferenceChange = "preference_change"
	ActionInterestDeleted  = "interest_deleted"
	ActionIdentityLinked   = "identity_linked"
	ActionIdentityMerge    = "identity_merge"
	ActionExport           = "export"
	ActionErasure          = "erasure"
	ActionAccessDenied     = "access_denied"
	ActionRecommendation   = "recommendation"
	ActionMessageSent      = "message_sent"
	ActionMessageSuppress  = "message_suppressed"
	ActionMessageFailed    = "message_failed"
	ActionConversion       = "conversion"
	ActionEventsCollected  = "events_collected"
)

// An ActivityEntry is one use of a shopper's data, in the usage log the
// shopper can read. It holds no personal data beyond the user id.
type ActivityEntry struct {
	ID         string    `json:"id"`
	User       UserID    `json:"user_id"`
	At         time.Time `json:"at"`
	Action     string    `json:"action"`
	Purpose    Purpose   `json:"purpose,omitempty"`
	Channel    Channel   `json:"channel,omitempty"`
	Signals    []Signal  `json:"signals,omitempty"`
	Actor      string    `json:"actor"` // a role, such as "storefront" or "shopper"
	DecisionID string    `json:"decision_id,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Detail     string    `json:"detail,omitempty"` // a short, plain description
}

// A Decision is one logged policy decision: its id, what was asked and what
// the policy answered.
type Decision struct {
	ID       string    `json:"decision_id"`
	At       time.Time `json:"at"`
	Path     string    `json:"path"`
	Revision string    `json:"revision"`
	User     UserID    `json:"user_id,omitempty"` // the data subject, if any
	Input    any       `json:"input"`
	Result   any       `json:"result"`
	Allow    bool      `json:"allow"`
	Reasons  []string  `json:"reasons,omitempty"`
}

// Change events pushed to HEED_CHANGE_WEBHOOKS.
const (
	EventConsentChanged     = "consent.changed"
	EventPreferencesChanged = "preferences.changed"
	EventUserErased         = "user.erased"
)

// A Change is one consent, preference or erasure event for other touchpoints
// (CRM, POS) to follow. Body is the JSON sent.
type Change struct {
	ID    string          `json:"id"`
	Event string          `json:"event"`
	User  UserID          `json:"user_id"`
	At    time.Time       `json:"at"`
	Body  json.RawMessage `json:"body"`
}

// An OutboxItem is a change waiting to be delivered to one target URL. It is
// written in the same transaction as the change itself, so no acknowledged
// change is lost across a crash.
type OutboxItem struct {
	ID       string    `json:"id"`
	Target   string    `json:"target"`
	Change   Change    `json:"change"`
	Attempts int       `json:"attempts"`
	NextAt   time.Time `json:"next_at"`
	LastErr  string    `json:"last_error,omitempty"`
}

// Effects are written in the same transaction as the change that causes them.
type Effects struct {
	Activity []ActivityEntry
	Outbox   []OutboxItem
}

// An ErasureProof is what erasure keeps: the consent and withdrawal history
// without evidence or identifiers, keyed by a keyed hash of the user id so
// that only someone who knows the id can find it.
type ErasureProof struct {
	SubjectHash string        `json:"subject_hash"`
	ErasedAt    time.Time     `json:"erased_at"`
	DecisionID  string        `json:"decision_id"`
	Records     []ProofRecord `json:"records"`
}

// A ProofRecord is a consent record reduced to what proves it.
type ProofRecord struct {
	ID            string    `json:"id"`
	Scope                   // purpose, channel, signal, recipient, touchpoint
	Status        Status    `json:"status"`
	NoticeVersion string    `json:"notice_version,omitempty"`
	Actor         string    `json:"actor,omitempty"`
	RecordedAt    time.Time `json:"recorded_at"`
}

// A Merge moves the absorbed user into the survivor: ledger, identities,
// interests, activity; Records are appended after (see MergeConsents).
type Merge struct {
	Survivor UserID
	Absorbed UserID
	Identity Identity
	Records  []ConsentRecord
	Effects  Effects
}
