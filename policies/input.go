package policies

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"heed/engine"
)

// inputs builds the ast inputs of the entrypoints straight from engine
// types. It reuses terms across calls: the keys and vocabulary values (built
// once), and the terms of consent records, question scopes and notice rules
// it has built before (bounded caches). Terms are never modified once
// built, so concurrent evaluations share them. Its methods are safe for
// concurrent use.
type inputs struct {
	strs     map[string]*ast.Term // read-only after newInputs
	subjects [2][2]*ast.Term      // [minor][guardian_consent], read-only after newInputs
	never    *ast.Term            // the expiry of records that never expire

	records  recordCache
	ledgers  ledgerCache
	scopes   termCache[engine.Scope]
	notices  noticeCache
	channels termCache[engine.ChannelFacts]
	offers   noticeCache // offer type lists: a list of strings, like notice versions

	questions sync.Pool // of ast.Object: consent's top objects, see release
}

// Cache bounds. A record's term takes about 1 KB, so the record cache holds
// at most about 16 MB: the ledgers of a few thousand recently active users.
const (
	maxRecordTerms = 8192 // per generation; two generations are kept
	maxScopeTerms  = 1024
	maxNoticeTerms = 16
	// Ledger arrays keep their records' terms alive after the record cache
	// drops them: at most about 2 × 1024 ledgers of a few KB each.
	maxLedgerTerms = 1024 // per generation
)

func newInputs() *inputs {
	in := &inputs{strs: make(map[string]*ast.Term)}
	add := func(ss ...string) {
		for _, s := range ss {
			in.strs[s] = ast.StringTerm(s)
		}
	}
	add("role", "subject", "action", "owner",
		"scope", "notice", "now", "records", "questions", "valid", "minor", "guardian_consent",
		"id", "purpose", "channel", "signal", "recipient", "touchpoint", "status",
		"notice_version", "actor", "recorded_at", "expires_at", "guardian_evidence",
		"event_type", "signal_allowed", "analytics_allowed",
		"allow", "reasons", "reason", "record_id",
		"erased", "channels", "enabled", "max_per_day", "max_per_week", "sent_today", "sent_this_week",
		"offer_type", "offer_types", "quiet", "quiet_ends", "day_ends", "week_ends",
		"campaign_cap", "campaign_sent", "campaign_cap_ends", "window_end", "defer_until",
		engine.ActorSelf, engine.ActorGuardian,
		"purchase", "view", "favorite", "unfavorite", "cart", "search", "store_visit")
	for _, p := range engine.Purposes {
		add(string(p))
	}
	for _, c := range engine.Channels {
		add(string(c))
	}
	for _, s := range engine.Signals {
		add(string(s))
	}
	for _, t := range engine.Touchpoints {
		add(string(t))
	}
	for _, s := range engine.Statuses {
		add(string(s))
	}
	add(engine.OfferTypes...)
	for _, r := range []engine.Role{engine.RoleAdmin, engine.RoleStorefront, engine.RoleMerchandiser,
		engine.RoleMarketing, engine.RoleShopper, engine.RoleSystem} {
		add(string(r))
	}
	for _, minor := range []bool{false, true} {
		for _, guardian := range []bool{false, true} {
			in.subjects[b2i(minor)][b2i(guardian)] = ast.ObjectTerm(
				[2]*ast.Term{in.key("minor"), boolTerm(minor)},
				[2]*ast.Term{in.key("guardian_consent"), boolTerm(guardian)},
			)
		}
	}
	in.never = ast.NewTerm(ast.Number(strconv.FormatInt(math.MaxInt64, 10)))
	in.records.cur = make(map[string]recordTerm)
	in.scopes.m = make(map[engine.Scope]*ast.Term)
	in.channels.m = make(map[engine.ChannelFacts]*ast.Term)
	return in
}

// str returns the term for s: the shared one when s is known, else a new one.
func (in *inputs) str(s string) *ast.Term {
	if s == "" {
		return ast.InternedEmptyString
	}
	if t, ok := in.strs[s]; ok {
		return t
	}
	return ast.StringTerm(s)
}

// key returns the shared term of a key newInputs added.
func (in *inputs) key(s string) *ast.Term { return in.strs[s] }

func boolTerm(b bool) *ast.Term {
	if b {
		return ast.InternedBooleanTrue
	}
	return ast.InternedBooleanFalse
}

// nanos returns t as Unix nanoseconds, clamped to the int64 range (years
// 1678 to 2262) so that order is kept.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func nanosTerm(t time.Time) *ast.Term {
	return ast.NewTerm(ast.Number(strconv.FormatInt(nanos(t), 10)))
}

// authz builds the input of data.heed.authz.decision:
//
//	{"role", "subject", "action", "owner"}
func (in *inputs) authz(r engine.AccessRequest) ast.Value {
	return ast.NewObject(
		[2]*ast.Term{in.key("role"), in.str(string(r.Role))},
		[2]*ast.Term{in.key("subject"), in.str(string(r.Subject))},
		[2]*ast.Term{in.key("action"), in.str(r.Action)},
		[2]*ast.Term{in.key("owner"), in.str(string(r.Owner))},
	)
}

// collect builds the input of data.heed.collect.decision:
//
//	{"event_type", "touchpoint", "signal", "signal_allowed", "analytics_allowed"}
func (in *inputs) collect(r engine.CollectRequest) ast.Value {
	return ast.NewObject(
		[2]*ast.Term{in.key("event_type"), in.str(r.EventType)},
		[2]*ast.Term{in.key("touchpoint"), in.str(string(r.Touchpoint))},
		[2]*ast.Term{in.key("signal"), in.str(string(r.Signal))},
		[2]*ast.Term{in.key("signal_allowed"), boolTerm(r.SignalAllowed)},
		[2]*ast.Term{in.key("analytics_allowed"), boolTerm(r.AnalyticsAllowed)},
	)
}

// subject returns {"minor", "guardian_consent"}.
func (in *inputs) subject(s engine.Subject) *ast.Term {
	return in.subjects[b2i(s.Minor)][b2i(s.GuardianConsent)]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// consentWrite builds the input of data.heed.consent.write_decision:
//
//	{"role", "subject": {"minor", "guardian_consent"},
//	 "records": [{"purpose", "status", "actor", "guardian_evidence"}]}
func (in *inputs) consentWrite(w engine.ConsentWrite) ast.Value {
	recs := make([]*ast.Term, len(w.Records))
	for i, r := range w.Records {
		recs[i] = ast.NewTerm(ast.NewObject(
			[2]*ast.Term{in.key("purpose"), in.str(string(r.Purpose))},
			[2]*ast.Term{in.key("status"), in.str(string(r.Status))},
			[2]*ast.Term{in.key("actor"), in.str(r.Actor)},
			[2]*ast.Term{in.key("guardian_evidence"), boolTerm(r.GuardianEvidence())},
		))
	}
	return ast.NewObject(
		[2]*ast.Term{in.key("role"), in.str(string(w.Role))},
		[2]*ast.Term{in.key("subject"), in.subject(w.Subject)},
		[2]*ast.Term{in.key("records"), ast.ArrayTerm(recs...)},
	)
}

// consent builds the input of data.heed.consent.decision, described in
// consent.rego. Only now is new on every call: the top object comes from a
// pool (give it back with release once the evaluation is over), and scopes,
// the subject, the notice rule, the records and the ledger's array come from
// the caches when seen before.
func (in *inputs) consent(q engine.ConsentQuestion) ast.Object {
	obj, _ := in.questions.Get().(ast.Object)
	if obj == nil {
		return in.question(q, nanosTerm(q.Now), in.ledger(q.Records))
	}
	for _, kv := range [...][2]*ast.Term{
		{in.key("scope"), in.scope(q.Scope)},
		{in.key("subject"), in.subject(q.Subject)},
		{in.key("notice"), in.notice(q.Notice)},
		{in.key("now"), nanosTerm(q.Now)},
		{in.key("records"), in.ledger(q.Records)},
	} {
		if obj.Get(kv[0]) != kv[1] {
			obj.Insert(kv[0], kv[1])
		}
	}
	return obj
}

// release gives a question object that consent returned back to the pool.
// Unlike every other input term, a pooled question object is changed in
// place, so it must serve one evaluation at a time and nothing may keep it:
// the decision an evaluation returns holds terms of the records, not the
// question.
func (in *inputs) release(obj ast.Object) { in.questions.Put(obj) }

// consentBatch builds the input of data.heed.consent.decisions:
//
//	{"questions": [question, ...]}
//
// where each question is what consent builds for it. Questions asked at the
// same time share their now term, and questions about the same ledger (the
// same slice of records) share its array.
func (in *inputs) consentBatch(qs []engine.ConsentQuestion) ast.Value {
	type ledgerKey struct {
		first *engine.ConsentRecord
		n     int
	}
	var ledgers map[ledgerKey]*ast.Term
	terms := make([]*ast.Term, len(qs))
	var now *ast.Term
	var at time.Time
	for i, q := range qs {
		if now == nil || !q.Now.Equal(at) {
			now, at = nanosTerm(q.Now), q.Now
		}
		var recs *ast.Term
		if len(q.Records) == 0 {
			recs = in.ledger(nil)
		} else {
			k := ledgerKey{&q.Records[0], len(q.Records)}
			if recs = ledgers[k]; recs == nil {
				recs = in.ledger(q.Records)
				if ledgers == nil {
					ledgers = make(map[ledgerKey]*ast.Term)
				}
				ledgers[k] = recs
			}
		}
		terms[i] = ast.NewTerm(in.question(q, now, recs))
	}
	return ast.NewObject([2]*ast.Term{in.key("questions"), ast.ArrayTerm(terms...)})
}

// question builds one question's object, with now as its time and records
// its ledger's array.
func (in *inputs) question(q engine.ConsentQuestion, now, records *ast.Term) ast.Object {
	return ast.NewObject(
		[2]*ast.Term{in.key("scope"), in.scope(q.Scope)},
		[2]*ast.Term{in.key("subject"), in.subject(q.Subject)},
		[2]*ast.Term{in.key("notice"), in.notice(q.Notice)},
		[2]*ast.Term{in.key("now"), now},
		[2]*ast.Term{in.key("records"), records},
	)
}

// ledger builds the array of records' terms, from the caches when seen
// before: the records' terms by record id, and the array itself by the
// terms it holds (a user's ledger is asked about again and again).
func (in *inputs) ledger(records []engine.ConsentRecord) *ast.Term {
	var buf [16]*ast.Term
	found := buf[:0]
	if len(records) > len(buf) {
		found = make([]*ast.Term, 0, len(records))
	}
	found = found[:len(records)]
	in.records.lookup(records, found)
	if t := in.ledgers.get(found); t != nil {
		return t
	}
	recs := make([]*ast.Term, len(records))
	copy(recs, found)
	var built []int
	for i, r := range records {
		if recs[i] == nil {
			recs[i] = in.record(r)
			built = append(built, i)
		}
	}
	if len(built) > 0 {
		in.records.store(records, recs, built)
	}
	t := ast.ArrayTerm(recs...)
	in.ledgers.put(recs, t)
	return t
}

// record builds {"id", "scope", "status", "notice_version", "actor",
// "recorded_at", "expires_at"}. A record that never expires gets the
// largest int64 as expires_at, so that the policy needs one comparison.
func (in *inputs) record(r engine.ConsentRecord) *ast.Term {
	expires := in.never
	if !r.ExpiresAt.IsZero() {
		expires = nanosTerm(r.ExpiresAt)
	}
	return ast.ObjectTerm(
		[2]*ast.Term{in.key("id"), in.str(r.ID)},
		[2]*ast.Term{in.key("scope"), in.scope(r.Scope())},
		[2]*ast.Term{in.key("status"), in.str(string(r.Status))},
		[2]*ast.Term{in.key("notice_version"), in.str(r.NoticeVersion)},
		[2]*ast.Term{in.key("actor"), in.str(r.Actor)},
		[2]*ast.Term{in.key("recorded_at"), nanosTerm(r.RecordedAt)},
		[2]*ast.Term{in.key("expires_at"), expires},
	)
}

// scope builds {"purpose", "channel", "signal", "recipient", "touchpoint"}
// without the empty fields but purpose, so that a record covers a question
// exactly when its scope is a subset of the question's.
func (in *inputs) scope(s engine.Scope) *ast.Term {
	if t := in.scopes.get(s); t != nil {
		return t
	}
	kv := make([][2]*ast.Term, 0, 5)
	kv = append(kv, [2]*ast.Term{in.key("purpose"), in.str(string(s.Purpose))})
	for _, f := range [...]struct{ k, v string }{
		{"channel", string(s.Channel)},
		{"signal", string(s.Signal)},
		{"recipient", s.Recipient},
		{"touchpoint", string(s.Touchpoint)},
	} {
		if f.v != "" {
			kv = append(kv, [2]*ast.Term{in.key(f.k), in.str(f.v)})
		}
	}
	t := ast.ObjectTerm(kv...)
	in.scopes.put(s, t, maxScopeTerms)
	return t
}

// notice builds {"valid": [versions]}, or {} when every version counts.
func (in *inputs) notice(n engine.NoticeRule) *ast.Term {
	if n.Valid == nil {
		return ast.InternedEmptyObject
	}
	if t := in.notices.get(n.Valid); t != nil {
		return t
	}
	valid := make([]*ast.Term, len(n.Valid))
	for i, v := range n.Valid {
		valid[i] = in.str(v)
	}
	t := ast.ObjectTerm([2]*ast.Term{in.key("valid"), ast.ArrayTerm(valid...)})
	in.notices.put(n.Valid, t)
	return t
}
