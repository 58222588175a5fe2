package policies_test

import (
	"context"
	"testing"
	"time"

	"heed/engine"
)

// at returns h hours after 2026-03-01 12:00 UTC.
func at(h int) time.Time {
	return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
}

// rec returns a record of purpose marketing, channel ch and touchpoint tp
// ("" for all), recorded at hour h under notice version "v1".
func rec(id string, h int, ch engine.Channel, tp engine.Touchpoint, st engine.Status) engine.ConsentRecord {
	return engine.ConsentRecord{ID: id, User: "u1", Purpose: engine.PurposeMarketing, Channel: ch,
		Touchpoint: tp, Status: st, NoticeVersion: "v1", RecordedAt: at(h)}
}

func expiring(r engine.ConsentRecord, h int) engine.ConsentRecord { r.ExpiresAt = at(h); return r }

func byGuardian(r engine.ConsentRecord) engine.ConsentRecord {
	r.Actor = engine.ActorGuardian
	return r
}

func underNotice(r engine.ConsentRecord, v string) engine.ConsentRecord {
	r.NoticeVersion = v
	return r
}

// want is a consent decision: allowed, status, reason and deciding record.
type want struct {
	allow  bool
	status engine.Status
	reason string
	record string
}

func TestConsent(t *testing.T) {
	pushApp := engine.Scope{Purpose: engine.PurposeMarketing, Channel: engine.ChannelPush, Touchpoint: engine.TouchpointApp}
	pushWeb := engine.Scope{Purpose: engine.PurposeMarketing, Channel: engine.ChannelPush, Touchpoint: engine.TouchpointWeb}
	emailApp := engine.Scope{Purpose: engine.PurposeMarketing, Channel: engine.ChannelEmail, Touchpoint: engine.TouchpointApp}
	granted, denied, withdrawn := engine.StatusGranted, engine.StatusDenied, engine.StatusWithdrawn
	minor := engine.Subject{Minor: true, GuardianConsent: true}
	tests := []struct {
		name    string
		scope   engine.Scope
		subject engine.Subject
		notice  engine.NoticeRule
		records []engine.ConsentRecord
		want    want
	}{
		{name: "no records", scope: pushApp,
			want: want{false, engine.StatusNone, engine.ReasonNoConsent, ""}},
		{name: "global grant", scope: pushApp,
			records: []engine.ConsentRecord{rec("r1", 0, "", "", granted)},
			want:    want{true, granted, engine.ReasonGranted, "r1"}},
		{name: "other purpose ignored", scope: pushApp,
			records: []engine.ConsentRecord{{ID: "r1", Purpose: engine.PurposeAnalytics, Status: granted, RecordedAt: at(0)}},
			want:    want{false, engine.StatusNone, engine.ReasonNoConsent, ""}},
		{name: "touchpoint grant covers only its touchpoint", scope: pushWeb,
			records: []engine.ConsentRecord{rec("r1", 0, "", engine.TouchpointApp, granted)},
			want:    want{false, engine.StatusNone, engine.ReasonNoConsent, ""}},
		{name: "touchpoint denial over global grant", scope: pushApp,
			records: []engine.ConsentRecord{rec("r1", 0, "", "", granted), rec("r2", 1, "", engine.TouchpointApp, denied)},
			want:    want{false, denied, engine.ReasonDenied, "r2"}},
		{name: "touchpoint denial leaves other touchpoints", scope: pushWeb,
			records: []engine.ConsentRecord{rec("r1", 0, "", "", granted), rec("r2", 1, "", engine.TouchpointApp, denied)},
			want:    want{true, granted, engine.ReasonGranted, "r1"}},
		{name: "channel grant covers only its channel", scope: emailApp,
			records: []engine.ConsentRecord{rec("r1", 0, engine.ChannelPush, "", granted)},
			want:    want{false, engine.StatusNone, engine.ReasonNoConsent, ""}},
		{name: "whole purpose withdrawal after channel grant", scope: pushApp,
			records: []engine.ConsentRecord{rec("r1", 0, engine.ChannelPush, "", granted), rec("r2", 1, "", "", withdrawn)},
			want:    want{false, withdrawn, engine.ReasonWithdrawn, "r2"}},
		{name: "global withdrawal after scoped grants", scope: pushApp,
			records: []engine.ConsentRecord{rec("r1", 0, engine.ChannelPush, engine.TouchpointApp, granted),
				rec("r2", 1, engine.ChannelEmail, "", granted), rec("r3", 2, "", "", withdrawn)},
			want: want{false, withdrawn, engine.ReasonWithdrawn, "r3"}},
		{name: "scoped grant after global withdrawal re-allows its scope", scope: pushApp,
			records: []engine.ConsentRecord{rec("r1", 0, "", "", granted), rec("r2", 1, "", "", withdrawn),
				rec("r3", 2, "", engine.TouchpointApp, granted)},
			want: want{true, granted, engine.ReasonGranted, "r3"}},
		{name: "scoped grant after global withdrawal leaves the rest withdrawn", scope: pushWeb,
			records: []engine.ConsentRecord{rec("r1", 0, "", "", granted), rec("r2", 1, "", "", withdrawn),
				rec("r3", 2, "", engine.TouchpointApp, granted)},
			want: want{false, withdrawn, engine.ReasonWithdrawn, "r2"}},
		{name: "tie: denial beats grant", scope: pushApp,
			records: []engine.ConsentRecord{rec("r1", 1, "", "", denied), rec("r2", 1, engine.ChannelPush, "", granted)},
			want:    want{false, denied, engine.ReasonDenied, "r1"}},
		{name: "tie: withdrawal beats denial", scope: pushApp,
			records: []engine.ConsentRecord{rec("r1", 1, "", "", withdrawn), rec("r2", 1, "", "", denied)},
			want:    want{false, withdrawn, engine.ReasonWithdrawn, "r1"}},
		{name: "tie: same status, later record", scope: pushApp,
			records: []engine.ConsentRecord{rec("r1", 1, "", "", granted), rec("r2", 1, "", "", granted)},
			want:    want{true, granted, engine.ReasonGranted, "r2"}},
		{name: "expired grant falls back to older denial", scope: pushApp,
			records: []engine.ConsentRecord{rec("r1", 0, "", "", denied), expiring(rec("r2", 1, "", "", granted), 3)},
			want:    want{false, denied, engine.ReasonDenied, "r1"}},
		{name: "grant expiring exactly now is expired", scope: pushApp,
			records: []engine.ConsentRecord{expiring(rec("r1", 1, "", "", granted), 5)},
			want:    want{false, engine.StatusNone, engine.ReasonNoConsent, ""}},
		{name: "grant expiring later counts", scope: pushApp,
			records: []engine.ConsentRecord{rec("r1", 0, "", "", denied), expiring(rec("r2", 1, "", "", granted), 6)},
			want:    want{true, granted, engine.ReasonGranted, "r2"}},
		{name: "minor without guardian", scope: pushApp, subject: minor,
			records: []engine.ConsentRecord{rec("r1", 0, "", "", granted)},
			want:    want{false, granted, engine.ReasonMinor, "r1"}},
		{name: "minor with guardian", scope: pushApp, subject: minor,
			records: []engine.ConsentRecord{byGuardian(rec("r1", 0, "", "", granted))},
			want:    want{true, granted, engine.ReasonGranted, "r1"}},
		{name: "minor, guardian record but no guardian consent", scope: pushApp, subject: engine.Subject{Minor: true},
			records: []engine.ConsentRecord{byGuardian(rec("r1", 0, "", "", granted))},
			want:    want{false, granted, engine.ReasonMinor, "r1"}},
		{name: "notice requires re-consent", scope: pushApp, notice: engine.NoticeRule{Valid: []string{"v2"}},
			records: []engine.ConsentRecord{rec("r1", 0, "", "", granted)},
			want:    want{false, engine.StatusNeedsReconsent, engine.ReasonNeedsReconsent, "r1"}},
		{name: "re-consent under the new notice", scope: pushApp, notice: engine.NoticeRule{Valid: []string{"v2", "v3"}},
			records: []engine.ConsentRecord{rec("r1", 0, "", "", granted), underNotice(rec("r2", 1, "", "", granted), "v3")},
			want:    want{true, granted, engine.ReasonGranted, "r2"}},
		{name: "re-consent rule leaves a denial alone", scope: pushApp, notice: engine.NoticeRule{Valid: []string{"v2"}},
			records: []engine.ConsentRecord{rec("r1", 0, "", "", denied)},
			want:    want{false, denied, engine.ReasonDenied, "r1"}},
		{name: "notice before the minor rule", scope: pushApp, subject: minor, notice: engine.NoticeRule{Valid: []string{"v2"}},
			records: []engine.ConsentRecord{rec("r1", 0, "", "", granted)},
			want:    want{false, engine.StatusNeedsReconsent, engine.ReasonNeedsReconsent, "r1"}},
	}
	s := newSet(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := engine.ConsentQuestion{Scope: tt.scope, Subject: tt.subject, Notice: tt.notice, Records: tt.records, Now: at(5)}
			v, err := s.Consent(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if got := (want{v.Allow, v.Status, reasonOf(v), v.RecordID}); got != tt.want {
				t.Errorf("Consent = %+v, want %+v", got, tt.want)
			}
			r := engine.Fold(q.Records, q.Scope, q.Subject, q.Notice, q.Now)
			if got := (want{r.Allowed, r.Status, r.Reason, r.RecordID}); got != tt.want {
				t.Errorf("engine.Fold = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestConsentUnknownStatus pins a deliberate difference from engine.Fold:
// a deciding record with a status no one can record never allows.
func TestConsentUnknownStatus(t *testing.T) {
	q := engine.ConsentQuestion{Scope: engine.Scope{Purpose: engine.PurposeMarketing},
		Records: []engine.ConsentRecord{rec("r1", 0, "", "", "maybe")}, Now: at(5)}
	v, err := newSet(t).Consent(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if got, w := (want{v.Allow, v.Status, reasonOf(v), v.RecordID}), (want{false, "maybe", "unknown_status", "r1"}); got != w {
		t.Errorf("Consent = %+v, want %+v", got, w)
	}
}

func reasonOf(v engine.Verdict) string {
	if len(v.Reasons) != 1 {
		return ""
	}
	return v.Reasons[0]
}
