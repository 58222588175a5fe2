package badgerstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
	"heed/engine/badgerstore"
)

func TestMerge(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "surv")
	mustUser(t, db, "abs")
	mustUser(t, db, "bystander")

	phone := engine.Identity{Type: "phone", Value: "+8613800000000"}
	device := engine.Identity{Type: "device", Value: "dev-1"}
	card := engine.Identity{Type: "loyalty_card", Value: "LC-9"}
	for _, l := range []struct {
		user  engine.UserID
		ident engine.Identity
	}{{"surv", card}, {"abs", phone}, {"abs", device}} {
		if err := db.AddIdentity(ctx, l.user, l.ident, engine.Effects{}); err != nil {
			t.Fatal(err)
		}
	}

	survRecs := []engine.ConsentRecord{rec("s1", engine.PurposeMarketing, engine.StatusGranted, 10), rec("s2", engine.PurposeAnalytics, engine.StatusGranted, 11)}
	absRecs := []engine.ConsentRecord{rec("a1", engine.PurposeMarketing, engine.StatusWithdrawn, 5), rec("a2", engine.PurposePersonalization, engine.StatusGranted, 6)}
	mustAppend(t, db, "surv", survRecs...)
	mustAppend(t, db, "abs", absRecs...)

	absPrefs, err := db.UpdatePreferences(ctx, "abs", func(p engine.Preferences) (engine.Preferences, engine.Effects, error) {
		p.Version, p.Language = 4, "en"
		return p, engine.Effects{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddInterests(ctx, "surv", []engine.InterestTag{{Tag: "category:shoes", Weight: 1}, {Tag: "category:toys", Weight: 3}}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddInterests(ctx, "abs", []engine.InterestTag{{Tag: "category:shoes", Weight: 2}, {Tag: "category:bags", Weight: 0.5}}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteInterest(ctx, "abs", "category:toys", engine.Effects{}); err != nil {
		t.Fatal(err)
	}
	absAct := []engine.ActivityEntry{
		{ID: "aa1", User: "abs", At: t0.Add(time.Minute), Action: engine.ActionRecommendation, Actor: "storefront"},
		{ID: "aa2", User: "abs", At: t0.Add(3 * time.Minute), Action: engine.ActionMessageSent, Actor: "system"},
	}
	survAct := []engine.ActivityEntry{{ID: "sa1", User: "surv", At: t0.Add(2 * time.Minute), Action: engine.ActionExport, Actor: "shopper"}}
	if err := db.AppendActivity(ctx, append(absAct, survAct...)...); err != nil {
		t.Fatal(err)
	}
	db.LogDecision(engine.Decision{ID: "dec_abs", At: t0, User: "abs", Allow: true})

	// What engine.MergeConsents would add: here, a withdrawal that wins.
	mergeRecs := []engine.ConsentRecord{{ID: "m1", Purpose: engine.PurposeMarketing, Status: engine.StatusWithdrawn, Source: "merge", RecordedAt: t0.Add(time.Hour)}}
	mergeAct := engine.ActivityEntry{ID: "mm", User: "surv", At: t0.Add(time.Hour), Action: engine.ActionIdentityMerge, Actor: "storefront"}
	m := engine.Merge{Survivor: "surv", Absorbed: "abs", Identity: phone, Records: mergeRecs,
		Effects: engine.Effects{Activity: []engine.ActivityEntry{mergeAct, {ID: "lost", User: "abs", At: t0, Action: "x"}}}}
	if err := db.Merge(ctx, m); err != nil {
		t.Fatal(err)
	}

	t.Run("ledger", func(t *testing.T) {
		moved := owned("surv", absRecs...)
		for i := range moved {
			moved[i].MergedFrom = "abs"
		}
		want := append(append(owned("surv", survRecs...), moved...), owned("surv", mergeRecs...)...)
		if diff := cmp.Diff(want, mustConsents(t, db, "surv", "")); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"s1", "a1", "m1"}, ids(mustConsents(t, db, "surv", engine.PurposeMarketing))); diff != "" {
			t.Errorf("marketing (-want +got):\n%s", diff)
		}
	})
	t.Run("absorbed user is gone", func(t *testing.T) {
		_, err := db.User(ctx, "abs")
		wantErr(t, err, engine.ErrNotFound)
		_, err = db.Consents(ctx, "abs", "")
		wantErr(t, err, engine.ErrNotFound)
	})
	t.Run("identities", func(t *testing.T) {
		u, err := db.User(ctx, "surv")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]engine.Identity{device, card, phone}, u.Identities); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		for _, ident := range []engine.Identity{phone, device, card} {
			if owner, err := db.ResolveIdentity(ctx, ident); err != nil || owner != "surv" {
				t.Errorf("ResolveIdentity(%v) = %q, %v; want surv", ident, owner, err)
			}
		}
	})
	t.Run("preferences taken from the absorbed user", func(t *testing.T) {
		got, err := db.Preferences(ctx, "surv")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(absPrefs, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("interests", func(t *testing.T) {
		got, err := db.Interests(ctx, "surv")
		if err != nil {
			t.Fatal(err)
		}
		want := engine.Interests{
			Tags:    []engine.InterestTag{{Tag: "category:shoes", Weight: 2}, {Tag: "category:bags", Weight: 0.5}},
			Deleted: []string{"category:toys"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("activity", func(t *testing.T) {
		got, _, err := db.Activity(ctx, "surv", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, e := range got {
			if e.User != "surv" {
				t.Errorf("entry %s has user %s", e.ID, e.User)
			}
			gotIDs = append(gotIDs, e.ID)
		}
		if diff := cmp.Diff([]string{"mm", "aa2", "sa1", "aa1"}, gotIDs); diff != "" {
			t.Errorf("newest first (-want +got):\n%s", diff)
		}
	})
	t.Run("decisions follow the survivor", func(t *testing.T) {
		if err := db.Erase(ctx, "surv", engine.ErasureProof{SubjectHash: "h"}, engine.Effects{}); err != nil {
			t.Fatal(err)
		}
		_, err := db.Decision(ctx, "dec_abs")
		wantErr(t, err, engine.ErrNotFound)
	})
}

func TestMergeKeepsSurvivorPreferences(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "surv")
	mustUser(t, db, "abs")
	set := func(id engine.UserID, lang string) engine.Preferences {
		p, err := db.UpdatePreferences(ctx, id, func(p engine.Preferences) (engine.Preferences, engine.Effects, error) {
			p.Version++
			p.Language = lang
			return p, engine.Effects{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := set("surv", "zh-CN")
	set("abs", "en")
	if err := db.Merge(ctx, engine.Merge{Survivor: "surv", Absorbed: "abs"}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Preferences(ctx, "surv")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMergeErrors(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	for _, id := range []engine.UserID{"surv", "abs", "third"} {
		mustUser(t, db, id)
	}
	held := engine.Identity{Type: "email", Value: "x@example.com"}
	if err := db.AddIdentity(ctx, "third", held, engine.Effects{}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, db, "abs", rec("a1", engine.PurposeAnalytics, engine.StatusGranted, 0))
	tests := []struct {
		name string
		m    engine.Merge
		want error
	}{
		{"unknown survivor", engine.Merge{Survivor: "nobody", Absorbed: "abs"}, engine.ErrNotFound},
		{"unknown absorbed", engine.Merge{Survivor: "surv", Absorbed: "nobody"}, engine.ErrNotFound},
		{"same user", engine.Merge{Survivor: "surv", Absorbed: "surv"}, engine.ErrInvalid},
		{"no survivor", engine.Merge{Absorbed: "abs"}, engine.ErrInvalid},
		{"bad identity", engine.Merge{Survivor: "surv", Absorbed: "abs", Identity: engine.Identity{Type: "fax", Value: "1"}}, engine.ErrInvalid},
		{"identity held by a third user", engine.Merge{Survivor: "surv", Absorbed: "abs", Identity: held}, engine.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, db.Merge(ctx, tt.m), tt.want) })
	}
	// Nothing moved.
	if diff := cmp.Diff([]string{"a1"}, ids(mustConsents(t, db, "abs", ""))); diff != "" {
		t.Errorf("absorbed ledger (-want +got):\n%s", diff)
	}
	if got := mustConsents(t, db, "surv", ""); len(got) != 0 {
		t.Errorf("survivor ledger = %v, want empty", ids(got))
	}
}

// TestMergeLargeActivity moves a usage log larger than one purge chunk and
// checks the absorbed id can be reused afterwards.
func TestMergeLargeActivity(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, badgerstore.Options{Dir: t.TempDir()})
	mustUser(t, db, "surv")
	mustUser(t, db, "abs")
	const n = 1300
	entries := make([]engine.ActivityEntry, n)
	for i := range entries {
		entries[i] = engine.ActivityEntry{User: "abs", At: t0.Add(time.Duration(i) * time.Second), Action: engine.ActionRecommendation}
	}
	if err := db.AppendActivity(ctx, entries...); err != nil {
		t.Fatal(err)
	}
	if err := db.Merge(ctx, engine.Merge{Survivor: "surv", Absorbed: "abs"}); err != nil {
		t.Fatal(err)
	}
	got, cursor, err := db.Activity(ctx, "surv", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	rest, next, err := db.Activity(ctx, "surv", cursor, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got)+len(rest) != n || next != "" {
		t.Errorf("survivor has %d+%d entries (next %q), want %d", len(got), len(rest), next, n)
	}
	mustUser(t, db, "abs")
	if got, _, _ := db.Activity(ctx, "abs", "", 10); len(got) != 0 {
		t.Errorf("re-created absorbed user has %d activity entries, want 0", len(got))
	}
}
