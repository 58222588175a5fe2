package engine

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// MaxConsentBatch bounds the records of one POST.
const MaxConsentBatch = 500

// RecordConsents validates a batch of records and appends all of them to id's
// ledger, or none. A minor's grant needs the guardian (the consent policy
// decides; a denial is a *DeniedError). It returns the records as stored, with
// ids and the recording time.
func (s *Service) RecordConsents(ctx context.Context, id UserID, records []ConsentRecord) ([]ConsentRecord, error) {
	now := s.now()
	var ps problems
	switch {
	case len(records) == 0:
		ps.add("records", "is empty; want at least one record")
	case len(records) > MaxConsentBatch:
		ps.add("records", "has %d records; at most %d per request", len(records), MaxConsentBatch)
	}
	for i, r := range records {
		r.validate(&ps, fmt.Sprintf("records[%d].", i), now)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	subj, err := s.store.Subject(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.checkNoticeVersions(ctx, records); err != nil {
		return nil, err
	}
	w := ConsentWrite{Role: ActorFrom(ctx).Role, Subject: subj, Records: records}
	v, err := s.gate.ConsentWrite(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("consent write policy: %w", err)
	}
	d := s.decide("heed/consent/write", id, w, v)
	if !v.Allow {
		return nil, &DeniedError{DecisionID: d.ID, Reasons: v.Reasons}
	}

	out := make([]ConsentRecord, len(records))
	var fx Effects
	for i, r := range records {
		r.ID, r.User, r.RecordedAt, r.MergedFrom = NewID("con_"), id, now, ""
		if r.Actor == "" {
			r.Actor = ActorSelf
		}
		out[i] = r
		e := s.activity(ctx, id, ActionConsentChange, d.ID)
		e.Purpose, e.Channel, e.Reason = r.Purpose, r.Channel, string(r.Status)
		if r.Signal != "" {
			e.Signals = []Signal{r.Signal}
		}
		e.Detail = describeRecord(r)
		fx.Activity = append(fx.Activity, e)
	}
	fx.Outbox = s.change(EventConsentChanged, id, now.UnixNano(), now, map[string]any{"records": proofless(out)})
	if err := s.store.AppendConsents(ctx, id, out, fx); err != nil {
		return nil, err
	}
	s.changed()
	return out, nil
}

// describeRecord says in plain words what a record changed.
func describeRecord(r ConsentRecord) string {
	d := string(r.Status) + " " + string(r.Purpose)
	for _, part := range []string{string(r.Channel), string(r.Signal), r.Recipient} {
		if part != "" {
			d += "/" + part
		}
	}
	if r.Touchpoint != "" {
		d += " on " + string(r.Touchpoint)
	}
	return d
}

// proofless strips evidence (which may hold personal data) from records
// sent to other systems.
func proofless(rs []ConsentRecord) []ConsentRecord {
	out := slices.Clone(rs)
	for i := range out {
		out[i].Evidence = nil
	}
	return out
}

// checkNoticeVersions rejects a grant that names a notice version never
// published for its purpose (when the purpose has published notices).
func (s *Service) checkNoticeVersions(ctx context.Context, records []ConsentRecord) error {
	nc, err := s.noticeCache(ctx)
	if err != nil {
		return err
	}
	var ps problems
	for i, r := range records {
		versions, any := nc.published[r.Purpose]
		if r.NoticeVersion != "" && any && !versions[r.NoticeVersion] {
			ps.add(fmt.Sprintf("records[%d].notice_version", i), "notice version %q was never published for %s", r.NoticeVersion, r.Purpose)
		}
	}
	return ps.err()
}

// noticeCache holds what consent decisions need to know of the notices.
type noticeCache struct {
	rules     map[Purpose]NoticeRule
	published map[Purpose]map[string]bool
}

// noticeCache returns the notices' rules and versions, loaded once and
// again after each publication.
func (s *Service) noticeCache(ctx context.Context) (*noticeCache, error) {
	s.mu.Lock() // held while loading, so a publish cannot interleave with a stale load
	defer s.mu.Unlock()
	if s.notices != nil {
		return s.notices, nil
	}
	notices, err := s.store.Notices(ctx)
	if err != nil {
		return nil, err
	}
	nc := &noticeCache{rules: NoticeRules(notices), published: make(map[Purpose]map[string]bool)}
	for _, n := range notices {
		if nc.published[n.Purpose] == nil {
			nc.published[n.Purpose] = make(map[string]bool)
		}
		nc.published[n.Purpose][n.Version] = true
	}
	s.notices = nc
	return nc, nil
}

func (s *Service) noticeRules(ctx context.Context) (map[Purpose]NoticeRule, error) {
	nc, err := s.noticeCache(ctx)
	if err != nil {
		return nil, err
	}
	return nc.rules, nil
}

// EffectiveConsents returns the state in force at every scope id's ledger
// names.
func (s *Service) EffectiveConsents(ctx context.Context, id UserID) ([]EffectiveConsent, error) {
	u, err := s.store.User(ctx, id)
	if err != nil {
		return nil, err
	}
	records, err := s.store.Consents(ctx, id, "")
	if err != nil {
		return nil, err
	}
	rules, err := s.noticeRules(ctx)
	if err != nil {
		return nil, err
	}
	return Effective(records, u.Subject(), rules, s.now()), nil
}

// CheckConsent asks the consent policy whether id's ledger allows q now.
func (s *Service) CheckConsent(ctx context.Context, id UserID, q Scope) (ConsentResult, Decision, error) {
	if err := q.Validate(); err != nil {
		return ConsentResult{}, Decision{}, err
	}
	subj, records, err := s.store.ConsentSubject(ctx, id, q.Purpose)
	if err != nil {
		return ConsentResult{}, Decision{}, err
	}
	rules, err := s.noticeRules(ctx)
	if err != nil {
		return ConsentResult{}, Decision{}, err
	}
	cq := ConsentQuestion{Scope: q, Subject: subj, Notice: rules[q.Purpose], Records: records, Now: s.now()}
	v, err := s.gate.Consent(ctx, cq)
	if err != nil {
		return ConsentResult{}, Decision{}, fmt.Errorf("consent policy: %w", err)
	}
	d := s.decide("heed/consent/decision", id, loggedQuestion(cq), v)
	res := ConsentResult{Allowed: v.Allow, Status: v.Status, Reason: firstReason(v.Reasons, ""), RecordID: v.RecordID}
	for _, r := range records {
		if r.ID == v.RecordID {
			res.Since = r.RecordedAt
		}
	}
	return res, d, nil
}

// consentBatch asks the gate qs in one Gate.ConsentBatch and checks that
// it answered each.
func (s *Service) consentBatch(ctx context.Context, qs []ConsentQuestion) ([]Verdict, error) {
	vs, err := s.gate.ConsentBatch(ctx, qs)
	if err != nil {
		return nil, fmt.Errorf("consent policy: %w", err)
	}
	if len(vs) != len(qs) {
		return nil, fmt.Errorf("consent policy: %d verdicts for %d questions", len(vs), len(qs))
	}
	return vs, nil
}

// ConsentHistory returns every record of id's ledger, oldest first.
func (s *Service) ConsentHistory(ctx context.Context, id UserID) ([]ConsentRecord, error) {
	if _, err := s.store.User(ctx, id); err != nil {
		return nil, err
	}
	return s.store.Consents(ctx, id, "")
}

// PublishNotice publishes a privacy-notice version for a purpose. With
// RequiresReconsent, grants under older versions stop counting.
func (s *Service) PublishNotice(ctx context.Context, n Notice) (Notice, error) {
	var ps problems
	switch {
	case n.Purpose == "":
		ps.add("purpose", "is required")
	case !n.Purpose.Valid():
		ps.add("purpose", "unknown purpose %q; want one of %v", n.Purpose, Purposes)
	}
	if n.Version == "" {
		ps.add("version", "is required")
	} else if msg := checkText(n.Version, 64); msg != "" {
		ps.add("version", "%s", msg)
	}
	if msg := checkText(n.TextURL, 2048); msg != "" {
		ps.add("text_url", "%s", msg)
	}
	if err := ps.err(); err != nil {
		return Notice{}, err
	}
	n.PublishedAt = s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notices = nil
	if err := s.store.PutNotice(ctx, n); err != nil {
		return Notice{}, err
	}
	return n, nil
}

// Notices lists every published notice in publication order.
func (s *Service) Notices(ctx context.Context) ([]Notice, error) {
	return s.store.Notices(ctx)
}

// A loggedConsentQuestion is how a consent decision's input is logged: the
// question with the ids of the ledger records it was given rather than
// their contents. The ledger is append-only, so the ids pin the input, and
// the log stays small on the hottest path.
type loggedConsentQuestion struct {
	Scope     Scope      `json:"scope"`
	Subject   Subject    `json:"subject"`
	Notice    NoticeRule `json:"notice"`
	RecordIDs []string   `json:"record_ids"`
	Now       time.Time  `json:"now"`
}

func loggedQuestion(q ConsentQuestion) loggedConsentQuestion {
	ids := make([]string, len(q.Records))
	for i, r := range q.Records {
		ids[i] = r.ID
	}
	return loggedConsentQuestion{Scope: q.Scope, Subject: q.Subject, Notice: q.Notice, RecordIDs: ids, Now: q.Now}
}
