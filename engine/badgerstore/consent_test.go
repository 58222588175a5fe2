package badgerstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

func TestConsentsAppendOrder(t *testing.T) {
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	mustUser(t, db, "u2")
	const (
		pers = engine.PurposePersonalization
		mkt  = engine.PurposeMarketing
		ana  = engine.PurposeAnalytics
		tps  = engine.PurposeThirdPartySharing
	)
	// Times deliberately out of order: the ledger keeps append order.
	batch1 := []engine.ConsentRecord{
		rec("c1", mkt, engine.StatusGranted, 5),
		rec("c2", pers, engine.StatusGranted, 1),
		rec("c3", mkt, engine.StatusWithdrawn, 3),
	}
	batch2 := []engine.ConsentRecord{
		rec("c4", ana, engine.StatusDenied, 0),
		rec("c5", pers, engine.StatusWithdrawn, 9),
		{ID: "c6", Purpose: tps, Recipient: "Acme Logistics", Status: engine.StatusGranted, RecordedAt: t0},
		rec("c7", mkt, engine.StatusGranted, 2),
	}
	mustAppend(t, db, "u1", batch1...)
	mustAppend(t, db, "u2", rec("other", mkt, engine.StatusGranted, 0))
	mustAppend(t, db, "u1", batch2...)

	all := append(append([]engine.ConsentRecord(nil), batch1...), batch2...)
	tests := []struct {
		purpose engine.Purpose
		want    []string
	}{
		{"", []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7"}},
		{mkt, []string{"c1", "c3", "c7"}},
		{pers, []string{"c2", "c5"}},
		{ana, []string{"c4"}},
		{tps, []string{"c6"}},
	}
	for _, tt := range tests {
		t.Run("purpose="+string(tt.purpose), func(t *testing.T) {
			got := mustConsents(t, db, "u1", tt.purpose)
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff(owned("u1", all...), mustConsents(t, db, "u1", "")); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"other"}, ids(mustConsents(t, db, "u2", ""))); diff != "" {
		t.Errorf("u2 (-want +got):\n%s", diff)
	}
}

func TestConsentRoundTrip(t *testing.T) {
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	full := engine.ConsentRecord{
		ID: "con_0193", User: "someone-else", Purpose: engine.PurposeMarketing, Channel: engine.ChannelEmail,
		Touchpoint: engine.TouchpointApp, Status: engine.StatusGranted, NoticeVersion: "2026-01",
		Source: "app 3.2 settings", Actor: engine.ActorGuardian, Evidence: json.RawMessage(`{"guardian":{"name":"Han Mei"},"ip":"10.0.0.1"}`),
		ExpiresAt: time.Date(2027, 1, 1, 0, 0, 0, 123, time.FixedZone("CST", 8*3600)), RecordedAt: t0.Add(456 * time.Nanosecond),
		MergedFrom: "u0",
	}
	old := engine.ConsentRecord{ID: "old", Purpose: engine.PurposePersonalization, Signal: engine.SignalOffline,
		Status: engine.StatusDenied, RecordedAt: time.Date(1965, 5, 4, 3, 2, 1, 999999999, time.UTC)}
	mustAppend(t, db, "u1", full, old)
	want := owned("u1", full, old) // User is always the ledger's owner
	if diff := cmp.Diff(want, mustConsents(t, db, "u1", "")); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestConsentErrors(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"append to unknown user", func() error {
			return db.AppendConsents(ctx, "nobody", []engine.ConsentRecord{rec("c1", engine.PurposeAnalytics, engine.StatusGranted, 0)}, engine.Effects{})
		}, engine.ErrNotFound},
		{"read unknown user", func() error { _, err := db.Consents(ctx, "nobody", ""); return err }, engine.ErrNotFound},
		{"read unknown user, one purpose", func() error {
			_, err := db.Consents(ctx, "nobody", engine.PurposeAnalytics)
			return err
		}, engine.ErrNotFound},
		{"unknown purpose", func() error {
			return db.AppendConsents(ctx, "u1", []engine.ConsentRecord{rec("c1", "spam", engine.StatusGranted, 0)}, engine.Effects{})
		}, engine.ErrInvalid},
		{"no id", func() error {
			return db.AppendConsents(ctx, "u1", []engine.ConsentRecord{rec("", engine.PurposeAnalytics, engine.StatusGranted, 0)}, engine.Effects{})
		}, engine.ErrInvalid},
		{"read unknown purpose", func() error { _, err := db.Consents(ctx, "u1", "spam"); return err }, engine.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.do(), tt.want) })
	}
	if got := mustConsents(t, db, "u1", ""); len(got) != 0 {
		t.Errorf("ledger after failed appends = %v, want empty", ids(got))
	}
}

// TestConsentEffects checks that effects are written with the records, and
// not at all when the append fails.
func TestConsentEffects(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	act := engine.ActivityEntry{ID: "act_1", User: "u1", At: t0, Action: engine.ActionConsentChange, Actor: "storefront", DecisionID: "dec_1"}
	item := engine.OutboxItem{ID: "out_1", Target: "https://crm.example/hook", NextAt: t0,
		Change: engine.Change{ID: "chg_1", Event: engine.EventConsentChanged, User: "u1", At: t0, Body: json.RawMessage(`{"version":1}`)}}
	fx := engine.Effects{Activity: []engine.ActivityEntry{act}, Outbox: []engine.OutboxItem{item}}
	bad := []engine.ConsentRecord{rec("c0", engine.PurposeAnalytics, engine.StatusGranted, 0), rec("c1", "spam", engine.StatusGranted, 0)}
	wantErr(t, db.AppendConsents(ctx, "u1", bad, fx), engine.ErrInvalid)
	if due, _ := db.DueOutbox(ctx, t0, 10); len(due) != 0 {
		t.Fatalf("outbox after a failed append = %v, want empty", due)
	}
	if err := db.AppendConsents(ctx, "u1", []engine.ConsentRecord{rec("c1", engine.PurposeAnalytics, engine.StatusGranted, 0)}, fx); err != nil {
		t.Fatal(err)
	}
	entries, _, err := db.Activity(ctx, "u1", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]engine.ActivityEntry{act}, entries); diff != "" {
		t.Errorf("activity (-want +got):\n%s", diff)
	}
	due, err := db.DueOutbox(ctx, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]engine.OutboxItem{item}, due); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
}

// TestConsentsConcurrent appends from several goroutines to one ledger and
// checks that each writer's records keep their order and none is lost.
func TestConsentsConcurrent(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	const writers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				p := engine.Purposes[(w+i)%len(engine.Purposes)]
				r := rec(fmt.Sprintf("w%d-%03d", w, i), p, engine.StatusGranted, i)
				if p == engine.PurposeThirdPartySharing {
					r.Recipient = "Acme"
				}
				if err := db.AppendConsents(ctx, "u1", []engine.ConsentRecord{r}, engine.Effects{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := mustConsents(t, db, "u1", "")
	if len(got) != writers*each {
		t.Fatalf("records = %d, want %d", len(got), writers*each)
	}
	next := make(map[string]int)
	for _, r := range got {
		var w string
		var i int
		fmt.Sscanf(r.ID, "%2s-%03d", &w, &i)
		if i != next[w] {
			t.Fatalf("record %s comes before %s-%03d", r.ID, w, next[w])
		}
		next[w]++
	}
}

func TestConsentSubject(t *testing.T) {
	db := mustOpenDB(t)
	ctx := context.Background()
	if _, err := db.PutUser(ctx, "kid", engine.Profile{Minor: true, GuardianConsent: true}, time.Now()); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, db, "kid", rec("a", engine.PurposeMarketing, engine.StatusGranted, 1),
		rec("b", engine.PurposeAnalytics, engine.StatusGranted, 2), rec("c", engine.PurposeMarketing, engine.StatusWithdrawn, 3))
	subj, got, err := db.ConsentSubject(ctx, "kid", engine.PurposeMarketing)
	if err != nil {
		t.Fatal(err)
	}
	if want := (engine.Subject{Minor: true, GuardianConsent: true}); subj != want {
		t.Errorf("subject = %+v, want %+v", subj, want)
	}
	if diff := cmp.Diff([]string{"a", "c"}, ids(got)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	_, _, err = db.ConsentSubject(ctx, "nobody", engine.PurposeMarketing)
	wantErr(t, err, engine.ErrNotFound)
	_, _, err = db.ConsentSubject(ctx, "kid", "spying")
	wantErr(t, err, engine.ErrInvalid)
}

// TestUserConsents: the profile (without identities) and one purpose's
// records, as User and ConsentSubject read them apart.
func TestUserConsents(t *testing.T) {
	db := mustOpenDB(t)
	ctx := context.Background()
	if _, err := db.PutUser(ctx, "kid", engine.Profile{Region: "FR", Minor: true, GuardianConsent: true}, time.Now()); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, db, "kid", rec("a", engine.PurposeMarketing, engine.StatusGranted, 1),
		rec("b", engine.PurposePersonalization, engine.StatusGranted, 2), rec("c", engine.PurposePersonalization, engine.StatusWithdrawn, 3))
	u, got, err := db.UserConsents(ctx, "kid", engine.PurposePersonalization)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "kid" || u.Region != "FR" || u.Subject() != (engine.Subject{Minor: true, GuardianConsent: true}) {
		t.Errorf("user = %+v", u)
	}
	if diff := cmp.Diff([]string{"b", "c"}, ids(got)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	_, _, err = db.UserConsents(ctx, "nobody", engine.PurposeMarketing)
	wantErr(t, err, engine.ErrNotFound)
	_, _, err = db.UserConsents(ctx, "kid", "spying")
	wantErr(t, err, engine.ErrInvalid)
}

func TestSubject(t *testing.T) {
	db := mustOpenDB(t)
	ctx := context.Background()
	if _, err := db.PutUser(ctx, "teen", engine.Profile{Minor: true}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Subject(ctx, "teen"); err != nil || got != (engine.Subject{Minor: true}) {
		t.Errorf("Subject = %+v, %v; want a minor without guardian consent", got, err)
	}
	_, err := db.Subject(ctx, "nobody")
	wantErr(t, err, engine.ErrNotFound)
}
