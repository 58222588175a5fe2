package badgerstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"

	"heed/engine"
	"heed/engine/badgerstore"
)

// seedUser gives id a profile, an identity, a ledger, preferences, interests,
// activity and a decision.
func seedUser(tb testing.TB, db *badgerstore.DB, id engine.UserID, phone string) {
	tb.Helper()
	ctx := context.Background()
	mustUser(tb, db, id)
	if err := db.AddIdentity(ctx, id, engine.Identity{Type: "phone", Value: phone}, engine.Effects{}); err != nil {
		tb.Fatal(err)
	}
	mustAppend(tb, db, id, rec(string(id)+"-c1", engine.PurposeMarketing, engine.StatusGranted, 0),
		rec(string(id)+"-c2", engine.PurposeAnalytics, engine.StatusWithdrawn, 1))
	if _, err := db.UpdatePreferences(ctx, id, func(p engine.Preferences) (engine.Preferences, engine.Effects, error) {
		p.Version, p.Language = 1, "en"
		return p, engine.Effects{}, nil
	}); err != nil {
		tb.Fatal(err)
	}
	if err := db.AddInterests(ctx, id, []engine.InterestTag{{Tag: "category:shoes", Weight: 1}}); err != nil {
		tb.Fatal(err)
	}
	if err := db.AppendActivity(ctx, engine.ActivityEntry{ID: string(id) + "-a1", User: id, At: t0, Action: engine.ActionRecommendation}); err != nil {
		tb.Fatal(err)
	}
	db.LogDecision(decision(string(id)+"-dec", id))
}

func TestErase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := mustOpen(t, badgerstore.Options{Dir: dir})
	seedUser(t, db, "u1", "+861")
	seedUser(t, db, "u2", "+862")

	proof := engine.ErasureProof{SubjectHash: "hash-u1", ErasedAt: t0, DecisionID: "dec_erase",
		Records: []engine.ProofRecord{{ID: "u1-c1", Scope: engine.Scope{Purpose: engine.PurposeMarketing}, Status: engine.StatusGranted, RecordedAt: t0}}}
	erased := engine.ActivityEntry{ID: "act_erased", User: "u1", At: t0, Action: engine.ActionErasure}
	item := engine.OutboxItem{ID: "out_erased", NextAt: t0, Change: engine.Change{Event: engine.EventUserErased, User: "u1", Body: json.RawMessage(`{}`)}}
	if err := db.Erase(ctx, "u1", proof, engine.Effects{Activity: []engine.ActivityEntry{erased}, Outbox: []engine.OutboxItem{item}}); err != nil {
		t.Fatal(err)
	}

	t.Run("everything about the user is gone", func(t *testing.T) {
		for name, do := range map[string]func() error{
			"User":        func() error { _, err := db.User(ctx, "u1"); return err },
			"Consents":    func() error { _, err := db.Consents(ctx, "u1", ""); return err },
			"Preferences": func() error { _, err := db.Preferences(ctx, "u1"); return err },
			"Interests":   func() error { _, err := db.Interests(ctx, "u1"); return err },
			"Activity":    func() error { _, _, err := db.Activity(ctx, "u1", "", 10); return err },
			"Identity": func() error {
				_, err := db.ResolveIdentity(ctx, engine.Identity{Type: "phone", Value: "+861"})
				return err
			},
			"Decision": func() error { _, err := db.Decision(ctx, "u1-dec"); return err },
		} {
			if err := do(); err == nil {
				t.Errorf("%s of the erased user: no error, want ErrNotFound", name)
			} else {
				wantErr(t, err, engine.ErrNotFound)
			}
		}
	})
	t.Run("proof is kept", func(t *testing.T) {
		got, err := db.ErasureProof(ctx, "hash-u1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(proof, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		_, err = db.ErasureProof(ctx, "hash-nobody")
		wantErr(t, err, engine.ErrNotFound)
	})
	t.Run("outbox effect is written", func(t *testing.T) {
		due, err := db.DueOutbox(ctx, t0, 10)
		if err != nil || len(due) != 1 || due[0].ID != "out_erased" {
			t.Errorf("due = %+v, %v; want the user.erased item", due, err)
		}
	})
	t.Run("other users are untouched", func(t *testing.T) {
		if got := mustConsents(t, db, "u2", ""); len(got) != 2 {
			t.Errorf("u2 has %d records, want 2", len(got))
		}
		if owner, err := db.ResolveIdentity(ctx, engine.Identity{Type: "phone", Value: "+862"}); err != nil || owner != "u2" {
			t.Errorf("u2's phone resolves to %q, %v", owner, err)
		}
		if _, err := db.Decision(ctx, "u2-dec"); err != nil {
			t.Errorf("u2's decision: %v", err)
		}
	})
	t.Run("a re-created user starts empty", func(t *testing.T) {
		u := mustUser(t, db, "u1")
		if len(u.Identities) != 0 || u.CreatedAt != t0 {
			t.Errorf("re-created user = %+v", u)
		}
		if got := mustConsents(t, db, "u1", ""); len(got) != 0 {
			t.Errorf("ledger = %v, want empty", ids(got))
		}
		p, err := db.Preferences(ctx, "u1")
		if err != nil || p.Version != 0 {
			t.Errorf("preferences version = %d, %v; want the defaults", p.Version, err)
		}
		in, err := db.Interests(ctx, "u1")
		if err != nil || len(in.Tags) != 0 || len(in.Deleted) != 0 {
			t.Errorf("interests = %+v, %v; want none", in, err)
		}
		if got, _, err := db.Activity(ctx, "u1", "", 10); err != nil || len(got) != 0 {
			t.Errorf("activity = %+v, %v; want none", got, err)
		}
		if err := db.Erase(ctx, "u1", engine.ErasureProof{SubjectHash: "hash-u1", ErasedAt: t0.Add(time.Hour),
			Records: []engine.ProofRecord{{ID: "u1-new", Status: engine.StatusDenied}}}, engine.Effects{}); err != nil {
			t.Fatal(err)
		}
		got, err := db.ErasureProof(ctx, "hash-u1")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Records) != 2 || got.Records[0].ID != "u1-c1" || got.Records[1].ID != "u1-new" || !got.ErasedAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("proof after a second erasure = %+v, want both erasures' records", got)
		}
	})
	t.Run("the scheduler is to forget the id", func(t *testing.T) {
		ids, err := db.ErasedToForget(ctx, 10)
		if err != nil || !cmp.Equal(ids, []engine.UserID{"u1"}) {
			t.Fatalf("erased users to forget = %v, %v; want u1", ids, err)
		}
		if err := db.Forgotten(ctx, ids); err != nil {
			t.Fatal(err)
		}
		if ids, err := db.ErasedToForget(ctx, 10); err != nil || len(ids) != 0 {
			t.Errorf("after Forgotten: %v, %v; want none", ids, err)
		}
	})
	mustClose(t, db)
	// On disk, nothing under the erased user's keys is left (the proof and
	// the outbox item aside).
	for _, prefix := range []string{"u/u1", "s/u1", "i/", "ui/u1\x00", "c/u1\x00", "f/u1", "t/u1", "a/u1\x00", "du/u1\x00", "d/u1", "e/", "fq/"} {
		want := map[string][]string{"i/": {"i/phone\x00+862"}}[prefix]
		if diff := cmp.Diff(want, rawKeys(t, dir, prefix)); diff != "" {
			t.Errorf("keys under %q (-want +got):\n%s", prefix, diff)
		}
	}
}

func TestEraseErrors(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	wantErr(t, db.Erase(ctx, "nobody", engine.ErasureProof{SubjectHash: "h"}, engine.Effects{}), engine.ErrNotFound)
	wantErr(t, db.Erase(ctx, "u1", engine.ErasureProof{}, engine.Effects{}), engine.ErrInvalid)
	if _, err := db.User(ctx, "u1"); err != nil {
		t.Errorf("user after a refused erasure: %v", err)
	}
}

// TestEraseLarge erases a user whose usage log spans several purge chunks.
func TestEraseLarge(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, badgerstore.Options{Dir: t.TempDir()})
	mustUser(t, db, "u1")
	entries := make([]engine.ActivityEntry, 1500)
	for i := range entries {
		entries[i] = engine.ActivityEntry{User: "u1", At: t0.Add(time.Duration(i) * time.Second), Action: engine.ActionRecommendation}
	}
	if err := db.AppendActivity(ctx, entries...); err != nil {
		t.Fatal(err)
	}
	recs := make([]engine.ConsentRecord, 700)
	for i := range recs {
		recs[i] = rec(string(rune('a'+i%26))+time.Duration(i).String(), engine.PurposeAnalytics, engine.StatusGranted, i)
	}
	mustAppend(t, db, "u1", recs...)
	if err := db.Erase(ctx, "u1", engine.ErasureProof{SubjectHash: "h"}, engine.Effects{}); err != nil {
		t.Fatal(err)
	}
	mustUser(t, db, "u1")
	if got := mustConsents(t, db, "u1", ""); len(got) != 0 {
		t.Errorf("ledger has %d records, want 0", len(got))
	}
	if got, _, _ := db.Activity(ctx, "u1", "", 10); len(got) != 0 {
		t.Errorf("activity has %d entries, want 0", len(got))
	}
}

// TestPurgeResumedOnOpen simulates a crash between an erasure's first
// transaction and the end of its purge: Open finishes the purge.
func TestPurgeResumedOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := mustOpen(t, badgerstore.Options{Dir: dir})
	seedUser(t, db, "u1", "+861")
	mustClose(t, db)
	// The erasure's first transaction, as if the process died right after.
	rawDo(t, dir, func(txn *badger.Txn) error {
		for _, k := range []string{"u/u1", "s/u1", "f/u1", "t/u1", "i/phone\x00+861", "ui/u1\x00phone\x00+861"} {
			if err := txn.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return txn.Set([]byte("e/u1"), nil)
	})
	index := filepath.Join(dir, "decisions", "index")
	if len(rawKeys(t, dir, "c/u1\x00")) == 0 || len(rawKeys(t, dir, "a/u1\x00")) == 0 || len(rawKeys(t, index, "du/u1\x00")) == 0 {
		t.Fatal("setup: the ledger, activity and decision index should be on disk")
	}

	var logged bytes.Buffer
	db, err := badgerstore.Open(ctx, badgerstore.Options{Dir: dir}, slog.New(slog.NewJSONHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "finished interrupted purges") || strings.Contains(logged.String(), `"u1"`) {
		t.Errorf("Open logged %s; want the purge finished, without the user's id", logged.String())
	}
	mustUser(t, db, "u1")
	if got := mustConsents(t, db, "u1", ""); len(got) != 0 {
		t.Errorf("ledger = %v, want empty", ids(got))
	}
	if got, _, _ := db.Activity(ctx, "u1", "", 10); len(got) != 0 {
		t.Errorf("activity = %+v, want empty", got)
	}
	mustClose(t, db)
	for _, prefix := range []string{"e/", "c/u1\x00", "a/u1\x00"} {
		if keys := rawKeys(t, dir, prefix); len(keys) != 0 {
			t.Errorf("keys under %q after Open: %q", prefix, keys)
		}
	}
	if keys := rawKeys(t, index, "du/u1\x00"); len(keys) != 0 {
		t.Errorf("decision index keys of u1 after Open: %q", keys)
	}
}
