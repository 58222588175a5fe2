package engine

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RecordEvents stores the events of one batch that the collect policy
// allows and reports the others as dropped, with the policy's reason.
//
// The whole batch is validated first: 1 to MaxEventsPerBatch events, each
// valid (Event.Validate), of a known user, about catalog items only. Any
// problem is a *ValidationError (ErrInvalid) naming "events[i].field"
// ("events[i].user_id", "events[i].items[j].item_id"...), and nothing is
// stored. Then each event is decided (see collect) and the kept ones are
// stored, with their effects on the users (order count, first purchase,
// interest tags) and one usage-log entry per user, in one synced write.
func (s *Service) RecordEvents(ctx context.Context, events []Event) (EventResult, error) {
	var ps problems
	switch {
	case len(events) == 0:
		ps.add("events", "is empty; want at least one event")
	case len(events) > MaxEventsPerBatch:
		ps.add("events", "has %d events; at most %d per request", len(events), MaxEventsPerBatch)
	}
	if err := ps.err(); err != nil {
		return EventResult{}, err
	}
	out, err := s.collect(ctx, events, func(i int) string { return "events[" + strconv.Itoa(i) + "]." })
	if err != nil {
		return EventResult{}, err
	}
	return EventResult{Accepted: out.accepted, Dropped: nonNil(out.dropped)}, nil
}

// A collected batch: how many events were stored, and the dropped ones by
// their index in the batch.
type collected struct {
	accepted int
	dropped  []DroppedEvent
}

// collect validates a batch, decides each event and stores the kept ones;
// field(i) prefixes the field names of event i's problems.
//
// Policy questions are asked once per distinct question, not per event:
// per (user, signal, touchpoint) the consent question for the signal the
// event feeds; per (user, touchpoint) the one for analytics, asked only when
// its answer can change the collect verdict (with the shipped policy: when
// the signal is not allowed), which the collect policy itself tells
// (Gate.Collect is asked with both answers); and per (user, collect request)
// the collect question. The consent questions of the whole batch are asked
// together, in two Gate.ConsentBatch calls (see prefetch). All of one user's answers in a batch are logged as
// one decision (Service.decide, path heed/collect) that lists every question
// with its result; the user's usage-log entry for the batch cites it. (One
// logged decision per question would put about a thousand decisions a
// batch into the decision log's queue, which drops when full.) Interest
// tags grow only from events whose signal is allowed: an event kept on
// analytics consent (or, a purchase, on contract) alone feeds none.
func (s *Service) collect(ctx context.Context, events []Event, field func(i int) string) (collected, error) {
	now := s.now()
	var ps problems
	for i := range events {
		if err := events[i].Validate(now); err != nil {
			ps = append(ps, problemsOf(Prefixed(err, field(i)))...)
		}
	}
	if err := ps.err(); err != nil {
		return collected{}, err
	}

	b := &eventBatch{s: s, now: now, users: make(map[UserID]*batchUser),
		consents: make(map[consentKey]Verdict), collects: make(map[collectKey]int),
		prefetched: make(map[consentKey]Verdict), verdicts: make(map[CollectRequest]collectVerdicts)}
	// Every user of the batch is read in one store read.
	var ids []UserID
	for i := range events {
		if id := events[i].User; b.users[id] == nil {
			b.users[id] = &batchUser{id: id}
			ids = append(ids, id)
		}
	}
	subjects, err := s.store.ConsentSubjects(ctx, ids, PurposePersonalization)
	if err != nil {
		return collected{}, err
	}
	order := make([]*batchUser, 0, len(ids))
	for i, id := range ids {
		u := b.users[id]
		if u.unknown = !subjects[i].Found; !u.unknown {
			u.subj, u.personalization = subjects[i].Subject, subjects[i].Records
			order = append(order, u)
		}
	}
	var itemIDs []ItemID
	for i := range events {
		e := &events[i]
		if b.users[e.User].unknown {
			ps.add(field(i)+"user_id", "unknown user %q", e.User)
			continue
		}
		if e.Type == EventPurchase {
			for _, l := range e.Items {
				itemIDs = append(itemIDs, l.Item)
			}
		} else if e.Item != "" {
			itemIDs = append(itemIDs, e.Item)
		}
	}
	items, err := s.store.Items(ctx, itemIDs)
	if err != nil {
		return collected{}, err
	}
	for i := range events {
		e := &events[i]
		if b.users[e.User].unknown {
			continue
		}
		if e.Type == EventPurchase {
			for j, l := range e.Items {
				if _, ok := items[l.Item]; !ok {
					ps.add(field(i)+"items["+strconv.Itoa(j)+"].item_id", "unknown item %q; put it in the catalog first", l.Item)
				}
			}
		} else if _, ok := items[e.Item]; e.Item != "" && !ok {
			ps.add(field(i)+"item_id", "unknown item %q; put it in the catalog first", e.Item)
		}
	}
	if err := ps.err(); err != nil {
		return collected{}, err
	}
	if b.rules, err = s.noticeRules(ctx); err != nil {
		return collected{}, err
	}
	if err := b.prefetch(ctx, events); err != nil {
		return collected{}, err
	}

	var out collected
	stored := make([]Event, 0, len(events))
	for i := range events {
		e := events[i]
		u := b.users[e.User]
		keep, signalAllowed, reason, err := b.decide(ctx, u, &e)
		if err != nil {
			return collected{}, err
		}
		if !keep {
			u.dropped++
			if u.reason == "" {
				u.reason = reason
			}
			out.dropped = append(out.dropped, DroppedEvent{Index: i, Reason: reason})
			continue
		}
		e.ID = NewID("evt_")
		stored = append(stored, e)
		u.stored++
		u.counts[typeIndex(e.Type)]++
		if e.Touchpoint != "" && !slices.Contains(u.touchpoints, e.Touchpoint) {
			u.touchpoints = append(u.touchpoints, e.Touchpoint)
		}
		if sig := e.Signal(); !slices.Contains(u.signals, sig) {
			u.signals = append(u.signals, sig)
		}
		if e.Type == EventPurchase {
			orderID := e.Order
			if orderID == "" {
				orderID = e.ID
			}
			if !slices.Contains(u.orders, orderID) {
				u.orders = append(u.orders, orderID)
			}
			if u.firstPurchase.IsZero() || e.OccurredAt.Before(u.firstPurchase) {
				u.firstPurchase = e.OccurredAt
			}
		}
		if w := InterestWeight(e.Type); signalAllowed && w > 0 {
			for _, id := range e.ItemIDs() {
				for _, tag := range items[id].InterestTags() {
					u.interests = append(u.interests, InterestTag{Tag: tag, Weight: w, UpdatedAt: e.OccurredAt})
				}
			}
		}
	}
	out.accepted = len(stored)
	for _, u := range order {
		u.decision = b.log(u)
	}

	batch := EventBatch{Events: stored, Users: make([]UserEvents, 0, len(order))}
	batch.Effects.Activity = make([]ActivityEntry, 0, len(order))
	for _, u := range order {
		if len(u.orders) > 0 || len(u.interests) > 0 || len(u.touchpoints) > 0 {
			batch.Users = append(batch.Users, UserEvents{User: u.id, Orders: len(u.orders),
				FirstPurchaseAt: u.firstPurchase, Interests: SumInterests(u.interests), Touchpoints: u.touchpoints})
		}
		batch.Effects.Activity = append(batch.Effects.Activity, s.collectedEntry(ctx, u))
	}
	if err := s.store.AppendEvents(ctx, batch); err != nil {
		return collected{}, err
	}
	if s.opts.Purchased != nil {
		var purchases []Event
		for _, e := range stored {
			if e.Type == EventPurchase {
				purchases = append(purchases, e)
			}
		}
		if len(purchases) > 0 {
			// Stored, so they count even if the caller has gone meanwhile.
			s.opts.Purchased(context.WithoutCancel(ctx), purchases)
		}
	}
	return out, nil
}

// An eventBatch holds what deciding one batch needs: the users it is about
// and the answers already given.
type eventBatch struct {
	s        *Service
	now      time.Time
	rules    map[Purpose]NoticeRule
	users    map[UserID]*batchUser
	consents map[consentKey]Verdict
	collects map[collectKey]int // index in the user's collects

	prefetched map[consentKey]Verdict             // answers asked ahead, not yet logged
	verdicts   map[CollectRequest]collectVerdicts // the collect policy's, per request
}

// collectVerdicts are the collect policy's verdicts on a request without
// and with analytics consent.
type collectVerdicts struct{ without, with Verdict }

// A batchUser is one user of a batch: consent facts, the questions asked,
// then what the batch did for them.
type batchUser struct {
	id              UserID
	unknown         bool
	subj            Subject
	personalization []ConsentRecord
	analytics       []ConsentRecord
	analyticsRead   bool
	asked           []loggedConsentAnswer
	collects        []loggedCollectAnswer
	decision        string // the id of the logged decision

	stored, dropped int
	counts          [7]int // stored events by type, in EventTypes order
	signals         []Signal
	reason          string // the first drop's
	orders          []string
	firstPurchase   time.Time
	interests       []InterestTag
	touchpoints     []Touchpoint
}

type consentKey struct {
	user  UserID
	scope Scope
}

type collectKey struct {
	user UserID
	req  CollectRequest
}

// A loggedCollection is the input of the one decision logged per user and
// batch: every consent question asked (ledger records by id) and every
// collect request evaluated, each with its result.
type loggedCollection struct {
	Consent []loggedConsentAnswer `json:"consent"`
	Collect []loggedCollectAnswer `json:"collect"`
}

type loggedConsentAnswer struct {
	Question loggedConsentQuestion `json:"question"`
	Result   map[string]any        `json:"result"`
}

type loggedCollectAnswer struct {
	Request CollectRequest `json:"request"`
	// AnalyticsAsked is false when analytics consent was not asked because
	// the collect policy gives the same verdict whatever its answer;
	// Request.AnalyticsAllowed is then false.
	AnalyticsAsked bool           `json:"analytics_asked"`
	Result         map[string]any `json:"result"`
	Events         int            `json:"events"` // how many of the batch's events it decided
	verdict        Verdict
}

// decide returns whether e may be stored, whether its personalization signal
// is allowed (so it may feed interest tags), and the reason of a drop.
func (b *eventBatch) decide(ctx context.Context, u *batchUser, e *Event) (keep, signalAllowed bool, reason string, err error) {
	sig := e.Signal()
	sv, err := b.consent(ctx, u, signalScope(e))
	if err != nil {
		return false, false, "", err
	}
	req := CollectRequest{EventType: string(e.Type), Touchpoint: e.Touchpoint, Signal: sig, SignalAllowed: sv.Allow}
	key := collectKey{user: u.id, req: req}
	i, ok := b.collects[key]
	if !ok {
		cv, err := b.collect(ctx, req)
		if err != nil {
			return false, false, "", err
		}
		v, vw := cv.without, cv.with
		with := req
		with.AnalyticsAllowed = true
		a := loggedCollectAnswer{Request: req}
		if vw.Allow != v.Allow { // analytics consent decides: ask it
			av, err := b.consent(ctx, u, analyticsScope(e))
			if err != nil {
				return false, false, "", err
			}
			a.AnalyticsAsked = true
			if av.Allow {
				a.Request, v = with, vw
			}
		}
		a.verdict, a.Result = v, verdictResult(v)
		i = len(u.collects)
		u.collects = append(u.collects, a)
		b.collects[key] = i
	}
	a := &u.collects[i]
	a.Events++
	return a.verdict.Allow, sv.Allow, firstReason(a.verdict.Reasons, "not allowed by the collect policy"), nil
}

// collect returns the collect policy's verdicts on req without and with
// analytics consent, asking once per batch.
func (b *eventBatch) collect(ctx context.Context, req CollectRequest) (collectVerdicts, error) {
	if cv, ok := b.verdicts[req]; ok {
		return cv, nil
	}
	var cv collectVerdicts
	var err error
	if cv.without, err = b.s.gate.Collect(ctx, req); err != nil {
		return collectVerdicts{}, fmt.Errorf("collect policy: %w", err)
	}
	with := req
	with.AnalyticsAllowed = true
	if cv.with, err = b.s.gate.Collect(ctx, with); err != nil {
		return collectVerdicts{}, fmt.Errorf("collect policy: %w", err)
	}
	b.verdicts[req] = cv
	return cv, nil
}

// prefetch asks ahead, in one Gate.ConsentBatch per round, every consent
// question deciding events will ask: first the personalization question of
// each (user, signal, touchpoint), then the analytics question of each
// (user, touchpoint) whose answer can change a collect verdict, which takes
// the first round's answers to tell. consent then finds the answers ready
// and logs them where and when it did when it asked them one by one.
func (b *eventBatch) prefetch(ctx context.Context, events []Event) error {
	var keys []consentKey
	var qs []ConsentQuestion
	add := func(u *batchUser, scope Scope) error {
		key := consentKey{user: u.id, scope: scope}
		if _, ok := b.prefetched[key]; ok {
			return nil
		}
		cq, err := b.question(ctx, u, scope)
		if err != nil {
			return err
		}
		b.prefetched[key] = Verdict{} // until answered, below
		keys, qs = append(keys, key), append(qs, cq)
		return nil
	}
	ask := func() error {
		if len(qs) == 0 {
			return nil
		}
		vs, err := b.s.consentBatch(ctx, qs)
		if err != nil {
			return err
		}
		for i, key := range keys {
			b.prefetched[key] = vs[i]
		}
		keys, qs = keys[:0], qs[:0]
		return nil
	}
	for i := range events {
		e := &events[i]
		if err := add(b.users[e.User], signalScope(e)); err != nil {
			return err
		}
	}
	if err := ask(); err != nil {
		return err
	}
	// The events whose analytics answer counts, and the analytics records
	// of their users, read together.
	var need []int
	var ids []UserID
	var readers []*batchUser
	for i := range events {
		e := &events[i]
		u := b.users[e.User]
		sv := b.prefetched[consentKey{user: u.id, scope: signalScope(e)}]
		cv, err := b.collect(ctx, CollectRequest{EventType: string(e.Type), Touchpoint: e.Touchpoint,
			Signal: e.Signal(), SignalAllowed: sv.Allow})
		if err != nil {
			return err
		}
		if cv.with.Allow != cv.without.Allow {
			need = append(need, i)
			if !u.analyticsRead {
				u.analyticsRead = true // below
				ids, readers = append(ids, u.id), append(readers, u)
			}
		}
	}
	if len(ids) > 0 {
		subjects, err := b.s.store.ConsentSubjects(ctx, ids, PurposeAnalytics)
		if err != nil {
			return err
		}
		for i, u := range readers {
			if !subjects[i].Found {
				return fmt.Errorf("consents of %s: user %s: %w", u.id, u.id, ErrNotFound)
			}
			u.analytics = subjects[i].Records
		}
	}
	for _, i := range need {
		e := &events[i]
		if err := add(b.users[e.User], analyticsScope(e)); err != nil {
			return err
		}
	}
	return ask()
}

// signalScope is the scope of the consent for the personalization signal e
// feeds, at e's touchpoint; analyticsScope that of analytics there.
func signalScope(e *Event) Scope {
	return Scope{Purpose: PurposePersonalization, Signal: e.Signal(), Touchpoint: e.Touchpoint}
}

func analyticsScope(e *Event) Scope {
	return Scope{Purpose: PurposeAnalytics, Touchpoint: e.Touchpoint}
}

// question builds the consent question about u at scope q, reading u's
// analytics records the first time it is about analytics.
func (b *eventBatch) question(ctx context.Context, u *batchUser, q Scope) (ConsentQuestion, error) {
	records := u.personalization
	if q.Purpose == PurposeAnalytics {
		if !u.analyticsRead {
			_, recs, err := b.s.store.ConsentSubject(ctx, u.id, PurposeAnalytics)
			if err != nil {
				return ConsentQuestion{}, err
			}
			u.analytics, u.analyticsRead = recs, true
		}
		records = u.analytics
	}
	return ConsentQuestion{Scope: q, Subject: u.subj, Notice: b.rules[q.Purpose], Records: records, Now: b.now}, nil
}

// consent answers a consent question about u, once per batch, and adds it
// to u's logged answers: from the answers prefetch asked ahead, or else by
// asking the gate.
func (b *eventBatch) consent(ctx context.Context, u *batchUser, q Scope) (Verdict, error) {
	key := consentKey{user: u.id, scope: q}
	if v, ok := b.consents[key]; ok {
		return v, nil
	}
	cq, err := b.question(ctx, u, q)
	if err != nil {
		return Verdict{}, err
	}
	v, ok := b.prefetched[key]
	if !ok {
		if v, err = b.s.gate.Consent(ctx, cq); err != nil {
			return Verdict{}, fmt.Errorf("consent policy: %w", err)
		}
	}
	u.asked = append(u.asked, loggedConsentAnswer{Question: loggedQuestion(cq), Result: verdictResult(v)})
	b.consents[key] = v
	return v, nil
}

// log logs u's decision for the batch and returns its id: allowed if any
// event was kept, with the collect verdicts' reasons.
func (b *eventBatch) log(u *batchUser) string {
	var reasons []string
	for _, c := range u.collects {
		for _, r := range c.verdict.Reasons {
			if !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
	}
	slices.Sort(reasons)
	in := loggedCollection{Consent: u.asked, Collect: u.collects}
	return b.s.decide("heed/collect", u.id, in, Verdict{Allow: u.stored > 0, Reasons: reasons}).ID
}

func typeIndex(t EventType) int { return slices.Index(EventTypes, t) }

// collectedEntry is u's usage-log entry for one batch: how many events were
// stored (by type) and dropped, the signals stored, the first drop's reason
// and the batch's decision about u.
func (s *Service) collectedEntry(ctx context.Context, u *batchUser) ActivityEntry {
	e := s.activity(ctx, u.id, ActionEventsCollected, u.decision)
	for _, sig := range Signals { // in the usual order
		if slices.Contains(u.signals, sig) {
			e.Signals = append(e.Signals, sig)
		}
	}
	e.Reason = u.reason
	var d strings.Builder
	fmt.Fprintf(&d, "stored %d event", u.stored)
	if u.stored != 1 {
		d.WriteByte('s')
	}
	sep := " ("
	for i, n := range u.counts {
		if n > 0 {
			fmt.Fprintf(&d, "%s%d %s", sep, n, EventTypes[i])
			sep = ", "
		}
	}
	if sep == ", " {
		d.WriteByte(')')
	}
	if u.dropped > 0 {
		fmt.Fprintf(&d, "; dropped %d without consent", u.dropped)
	}
	e.Detail = d.String()
	return e
}

// TrainingEvents yields every stored event that may train the next model:
// user by user, only the events whose signal the user allows for
// personalization now, at no particular touchpoint (the user's general
// state: a grant for one touchpoint alone does not count here). It takes
// one logged consent decision per user and signal present. Erased users
// have no events, so they leave the next model; a user removed during the
// scan is skipped. On an error it yields the error once and stops.
//
// It holds up to trainingHold events read but not yet yielded, so that the
// consent questions of their users are asked together, in one
// Gate.ConsentBatch.
func (s *Service) TrainingEvents(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		rules, err := s.noticeRules(ctx)
		if err != nil {
			yield(Event{}, err)
			return
		}
		var (
			cur     UserID
			gone    bool
			subj    Subject
			records []ConsentRecord
			held    []Event                     // read, not yet yielded
			allowed = make(map[userSignal]bool) // the answers about held's users and cur
			asking  []userSignal                // the questions not yet asked
			qs      []ConsentQuestion
		)
		// flush asks the questions not yet asked, yields the held events
		// allowed and forgets the answers about users other than cur. It
		// reports whether to go on.
		flush := func() bool {
			if len(qs) > 0 {
				vs, err := s.consentBatch(ctx, qs)
				if err != nil {
					yield(Event{}, err)
					return false
				}
				for i, k := range asking {
					s.decide("heed/consent/decision", k.user, loggedQuestion(qs[i]), vs[i])
					allowed[k] = vs[i].Allow
				}
				asking, qs = asking[:0], qs[:0]
			}
			for _, e := range held {
				if allowed[userSignal{e.User, e.Signal()}] && !yield(e, nil) {
					return false
				}
			}
			clear(held)
			held = held[:0]
			for k := range allowed {
				if k.user != cur {
					delete(allowed, k)
				}
			}
			return true
		}
		fail := func(err error) {
			if flush() {
				yield(Event{}, err)
			}
		}
		for e, err := range s.store.ScanEvents(ctx) {
			if err != nil {
				fail(err)
				return
			}
			if e.User != cur || cur == "" {
				cur, gone = e.User, false
				subj, records, err = s.store.ConsentSubject(ctx, cur, PurposePersonalization)
				if errors.Is(err, ErrNotFound) {
					gone = true
				} else if err != nil {
					fail(err)
					return
				}
			}
			if gone {
				continue
			}
			k := userSignal{cur, e.Signal()}
			if _, ok := allowed[k]; !ok {
				allowed[k] = false // until answered
				asking = append(asking, k)
				qs = append(qs, ConsentQuestion{Scope: Scope{Purpose: PurposePersonalization, Signal: k.signal},
					Subject: subj, Notice: rules[PurposePersonalization], Records: records, Now: s.now()})
			}
			held = append(held, e)
			if len(held) >= trainingHold && !flush() {
				return
			}
		}
		flush()
	}
}

// trainingHold bounds the events TrainingEvents holds before it asks their
// consent questions: up to six questions per user among them.
const trainingHold = 1024

type userSignal struct {
	user   UserID
	signal Signal
}

// History returns the request-time history of user for a recommendation:
// the newest limit events (0: all) whose signal is in allowed, oldest
// first. allowed is what the request's consent decisions allow; with none
// it returns nothing and reads nothing. Returns ErrNotFound for an unknown
// user.
func (s *Service) History(ctx context.Context, user UserID, allowed []Signal, limit int) ([]Event, error) {
	if len(allowed) == 0 {
		return nil, nil
	}
	d, err := s.store.PersonalData(ctx, user, limit, ofSignals(allowed))
	return d.Events, err
}

// ofSignals accepts the events of the signals in allowed.
func ofSignals(allowed []Signal) func(Event) bool {
	return func(e Event) bool { return slices.Contains(allowed, e.Signal()) }
}
