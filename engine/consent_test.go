package engine_test

import (
	"testing"
	"time"

	"heed/engine"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// rec builds a ledger record at t0 + minutes.
func rec(id string, min int, p engine.Purpose, s engine.Status, opts ...func(*engine.ConsentRecord)) engine.ConsentRecord {
	r := engine.ConsentRecord{ID: id, Purpose: p, Status: s, RecordedAt: t0.Add(time.Duration(min) * time.Minute)}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func ch(c engine.Channel) func(*engine.ConsentRecord) {
	return func(r *engine.ConsentRecord) { r.Channel = c }
}
func sig(s engine.Signal) func(*engine.ConsentRecord) {
	return func(r *engine.ConsentRecord) { r.Signal = s }
}
func tp(t engine.Touchpoint) func(*engine.ConsentRecord) {
	return func(r *engine.ConsentRecord) { r.Touchpoint = t }
}
func nv(v string) func(*engine.ConsentRecord) {
	return func(r *engine.ConsentRecord) { r.NoticeVersion = v }
}
func guardian() func(*engine.ConsentRecord) {
	return func(r *engine.ConsentRecord) { r.Actor = engine.ActorGuardian }
}
func expires(min int) func(*engine.ConsentRecord) {
	return func(r *engine.ConsentRecord) { r.ExpiresAt = t0.Add(time.Duration(min) * time.Minute) }
}

const (
	mkt = engine.PurposeMarketing
	per = engine.PurposePersonalization
	gr  = engine.StatusGranted
	de  = engine.StatusDenied
	wd  = engine.StatusWithdrawn
)

func TestFold(t *testing.T) {
	email := engine.Scope{Purpose: mkt, Channel: engine.ChannelEmail}
	emailApp := engine.Scope{Purpose: mkt, Channel: engine.ChannelEmail, Touchpoint: engine.TouchpointApp}
	emailWeb := engine.Scope{Purpose: mkt, Channel: engine.ChannelEmail, Touchpoint: engine.TouchpointWeb}
	smsApp := engine.Scope{Purpose: mkt, Channel: engine.ChannelSMS, Touchpoint: engine.TouchpointApp}
	browsing := engine.Scope{Purpose: per, Signal: engine.SignalBrowsing}
	now := t0.Add(time.Hour)
	tests := []struct {
		name    string
		records []engine.ConsentRecord
		q       engine.Scope
		subj    engine.Subject
		notice  engine.NoticeRule
		now     time.Time // zero: now
		want    engine.ConsentResult
	}{
		{name: "no records", q: email,
			want: engine.ConsentResult{Status: engine.StatusNone, Reason: engine.ReasonNoConsent}},
		{name: "global grant covers a channel and a touchpoint",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr)}, q: emailApp,
			want: engine.ConsentResult{Allowed: true, Status: gr, Reason: engine.ReasonGranted, RecordID: "a", Since: t0}},
		{name: "touchpoint grant does not cover another touchpoint",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr, ch("email"), tp("app"))}, q: emailWeb,
			want: engine.ConsentResult{Status: engine.StatusNone, Reason: engine.ReasonNoConsent}},
		{name: "touchpoint grant does not answer the all-touchpoint question",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr, ch("email"), tp("app"))}, q: email,
			want: engine.ConsentResult{Status: engine.StatusNone, Reason: engine.ReasonNoConsent}},
		{name: "channel grant does not cover another channel",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr, ch("email"))}, q: smsApp,
			want: engine.ConsentResult{Status: engine.StatusNone, Reason: engine.ReasonNoConsent}},
		{name: "whole-purpose withdrawal after channel grants",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr, ch("email")), rec("b", 1, mkt, gr, ch("sms"), tp("app")), rec("c", 2, mkt, wd)},
			q:       smsApp,
			want:    engine.ConsentResult{Status: wd, Reason: engine.ReasonWithdrawn, RecordID: "c", Since: t0.Add(2 * time.Minute)}},
		{name: "global withdrawal overrides older app-only grant",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr, ch("email"), tp("app")), rec("b", 5, mkt, wd)}, q: emailApp,
			want: engine.ConsentResult{Status: wd, Reason: engine.ReasonWithdrawn, RecordID: "b", Since: t0.Add(5 * time.Minute)}},
		{name: "later app-only grant re-allows the app",
			records: []engine.ConsentRecord{rec("a", 0, mkt, wd), rec("b", 5, mkt, gr, ch("email"), tp("app"))}, q: emailApp,
			want: engine.ConsentResult{Allowed: true, Status: gr, Reason: engine.ReasonGranted, RecordID: "b", Since: t0.Add(5 * time.Minute)}},
		{name: "later app-only grant leaves the web withdrawn",
			records: []engine.ConsentRecord{rec("a", 0, mkt, wd), rec("b", 5, mkt, gr, ch("email"), tp("app"))}, q: emailWeb,
			want: engine.ConsentResult{Status: wd, Reason: engine.ReasonWithdrawn, RecordID: "a", Since: t0}},
		{name: "the newest record decides even when less specific",
			records: []engine.ConsentRecord{rec("a", 0, mkt, wd, ch("email"), tp("app")), rec("b", 1, mkt, gr)}, q: emailApp,
			want: engine.ConsentResult{Allowed: true, Status: gr, Reason: engine.ReasonGranted, RecordID: "b", Since: t0.Add(time.Minute)}},
		{name: "expired grant no longer counts",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr, expires(30))}, q: email,
			want: engine.ConsentResult{Status: engine.StatusNone, Reason: engine.ReasonNoConsent}},
		{name: "expired record lets the older one decide",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr), rec("b", 1, mkt, de, expires(30))}, q: email,
			want: engine.ConsentResult{Allowed: true, Status: gr, Reason: engine.ReasonGranted, RecordID: "a", Since: t0}},
		{name: "unexpired grant counts",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr, expires(120))}, q: email,
			want: engine.ConsentResult{Allowed: true, Status: gr, Reason: engine.ReasonGranted, RecordID: "a", Since: t0}},
		{name: "tie: withdrawal beats grant whatever the order",
			records: []engine.ConsentRecord{rec("a", 3, mkt, wd), rec("b", 3, mkt, gr)}, q: email,
			want: engine.ConsentResult{Status: wd, Reason: engine.ReasonWithdrawn, RecordID: "a", Since: t0.Add(3 * time.Minute)}},
		{name: "tie: denial beats grant",
			records: []engine.ConsentRecord{rec("a", 3, mkt, gr, ch("email")), rec("b", 3, mkt, de)}, q: email,
			want: engine.ConsentResult{Status: de, Reason: engine.ReasonDenied, RecordID: "b", Since: t0.Add(3 * time.Minute)}},
		{name: "signal scope: browsing withdrawn, purchases still granted",
			records: []engine.ConsentRecord{rec("a", 0, per, gr), rec("b", 1, per, wd, sig("browsing"))},
			q:       engine.Scope{Purpose: per, Signal: engine.SignalPurchases},
			want:    engine.ConsentResult{Allowed: true, Status: gr, Reason: engine.ReasonGranted, RecordID: "a", Since: t0}},
		{name: "signal scope: browsing withdrawn",
			records: []engine.ConsentRecord{rec("a", 0, per, gr), rec("b", 1, per, wd, sig("browsing"))}, q: browsing,
			want: engine.ConsentResult{Status: wd, Reason: engine.ReasonWithdrawn, RecordID: "b", Since: t0.Add(time.Minute)}},
		{name: "other purposes never count",
			records: []engine.ConsentRecord{rec("a", 0, per, gr)}, q: email,
			want: engine.ConsentResult{Status: engine.StatusNone, Reason: engine.ReasonNoConsent}},
		{name: "minor without guardian consent",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr, guardian())}, q: email, subj: engine.Subject{Minor: true},
			want: engine.ConsentResult{Status: gr, Reason: engine.ReasonMinor, RecordID: "a", Since: t0}},
		{name: "minor's grant by self does not count",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr)}, q: email, subj: engine.Subject{Minor: true, GuardianConsent: true},
			want: engine.ConsentResult{Status: gr, Reason: engine.ReasonMinor, RecordID: "a", Since: t0}},
		{name: "minor's grant by guardian counts",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr, guardian())}, q: email, subj: engine.Subject{Minor: true, GuardianConsent: true},
			want: engine.ConsentResult{Allowed: true, Status: gr, Reason: engine.ReasonGranted, RecordID: "a", Since: t0}},
		{name: "grant under a superseded notice needs re-consent",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr, nv("2026-01"))}, q: email,
			notice: engine.NoticeRule{Valid: []string{"2026-03"}},
			want:   engine.ConsentResult{Status: engine.StatusNeedsReconsent, Reason: engine.ReasonNeedsReconsent, RecordID: "a", Since: t0}},
		{name: "re-consent under the new notice counts",
			records: []engine.ConsentRecord{rec("a", 0, mkt, gr, nv("2026-01")), rec("b", 9, mkt, gr, nv("2026-03"))}, q: email,
			notice: engine.NoticeRule{Valid: []string{"2026-03"}},
			want:   engine.ConsentResult{Allowed: true, Status: gr, Reason: engine.ReasonGranted, RecordID: "b", Since: t0.Add(9 * time.Minute)}},
		{name: "withdrawal needs no notice version",
			records: []engine.ConsentRecord{rec("a", 0, mkt, wd)}, q: email,
			notice: engine.NoticeRule{Valid: []string{"2026-03"}},
			want:   engine.ConsentResult{Status: wd, Reason: engine.ReasonWithdrawn, RecordID: "a", Since: t0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.now
			if at.IsZero() {
				at = now
			}
			got := engine.Fold(tt.records, tt.q, tt.subj, tt.notice, at)
			if got != tt.want {
				t.Errorf("Fold() = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestMergeConsentsStricterWins(t *testing.T) {
	now := t0.Add(time.Hour)
	tests := []struct {
		name     string
		survivor []engine.ConsentRecord
		absorbed []engine.ConsentRecord
		q        engine.Scope
		want     engine.Status
	}{
		{name: "grant and withdrawal: withdrawal",
			survivor: []engine.ConsentRecord{rec("s1", 0, mkt, gr, ch("email"))},
			absorbed: []engine.ConsentRecord{rec("a1", 1, mkt, wd, ch("email"))},
			q:        engine.Scope{Purpose: mkt, Channel: "email"}, want: wd},
		{name: "newer grant of the absorbed user does not undo a withdrawal",
			survivor: []engine.ConsentRecord{rec("s1", 0, mkt, wd)},
			absorbed: []engine.ConsentRecord{rec("a1", 5, mkt, gr, ch("email"))},
			q:        engine.Scope{Purpose: mkt, Channel: "email", Touchpoint: "web"}, want: wd},
		{name: "a question only one answered keeps that answer",
			survivor: []engine.ConsentRecord{rec("s1", 0, mkt, gr, ch("sms"))},
			absorbed: []engine.ConsentRecord{rec("a1", 5, per, gr, sig("browsing"))},
			q:        engine.Scope{Purpose: per, Signal: "browsing", Touchpoint: "app"}, want: gr},
		{name: "both granted stays granted",
			survivor: []engine.ConsentRecord{rec("s1", 0, mkt, gr)},
			absorbed: []engine.ConsentRecord{rec("a1", 5, mkt, gr)},
			q:        engine.Scope{Purpose: mkt, Channel: "push"}, want: gr},
		{name: "narrower re-grant of the survivor survives a general stricter merge",
			survivor: []engine.ConsentRecord{rec("s1", 0, mkt, wd), rec("s2", 1, mkt, gr, ch("email"), tp("app"))},
			absorbed: []engine.ConsentRecord{rec("a1", 3, mkt, gr, ch("email"))},
			q:        engine.Scope{Purpose: mkt, Channel: "email", Touchpoint: "app"}, want: gr},
		{name: "narrower re-grant: other touchpoints stay withdrawn",
			survivor: []engine.ConsentRecord{rec("s1", 0, mkt, wd), rec("s2", 1, mkt, gr, ch("email"), tp("app"))},
			absorbed: []engine.ConsentRecord{rec("a1", 3, mkt, gr, ch("email"))},
			q:        engine.Scope{Purpose: mkt, Channel: "email", Touchpoint: "web"}, want: wd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			add := engine.MergeConsents(tt.survivor, tt.absorbed, "u2", now)
			for i := range add {
				add[i].ID = "m" + string(rune('a'+i))
			}
			merged := append(append(append([]engine.ConsentRecord(nil), tt.survivor...), tt.absorbed...), add...)
			got := engine.Fold(merged, tt.q, engine.Subject{}, engine.NoticeRule{}, now.Add(time.Second))
			if got.Status != tt.want {
				t.Errorf("merged state = %s (record %s), want %s; added %+v", got.Status, got.RecordID, tt.want, add)
			}
		})
	}
}

func TestNoticeRules(t *testing.T) {
	rules := engine.NoticeRules([]engine.Notice{
		{Purpose: mkt, Version: "v1"},
		{Purpose: mkt, Version: "v2", RequiresReconsent: true},
		{Purpose: mkt, Version: "v3"},
		{Purpose: per, Version: "p1"},
	})
	for _, c := range []struct {
		p       engine.Purpose
		version string
		want    bool
	}{{mkt, "v1", false}, {mkt, "v2", true}, {mkt, "v3", true}, {mkt, "", false}, {per, "anything", true}, {engine.PurposeAnalytics, "", true}} {
		if got := rules[c.p].Counts(c.version); got != c.want {
			t.Errorf("rules[%s].Counts(%q) = %v, want %v", c.p, c.version, got, c.want)
		}
	}
}
