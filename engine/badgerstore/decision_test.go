package badgerstore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"

	"heed/engine"
	"heed/engine/badgerstore"
)

func decision(id string, user engine.UserID) engine.Decision {
	return engine.Decision{ID: id, At: t0, Path: "data.heed.consent.allow", Revision: "r1", User: user,
		Input: map[string]any{"scope": map[string]any{"purpose": "marketing"}, "n": 1.5}, Result: true,
		Allow: true, Reasons: []string{"granted"}}
}

func TestDecisionLog(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)

	t.Run("readable at once", func(t *testing.T) {
		// Many in a row, each read back at once: some are still queued,
		// some written.
		for i := range 200 {
			d := decision(fmt.Sprintf("dec_%03d", i), "u1")
			db.LogDecision(d)
			got, err := db.Decision(ctx, d.ID)
			if err != nil {
				t.Fatalf("Decision(%s) right after LogDecision: %v", d.ID, err)
			}
			if diff := cmp.Diff(d, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		}
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := db.Decision(ctx, "dec_nope")
		wantErr(t, err, engine.ErrNotFound)
	})
	t.Run("without id is dropped", func(t *testing.T) {
		before := db.DroppedDecisions()
		db.LogDecision(engine.Decision{At: t0})
		if got := db.DroppedDecisions(); got != before+1 {
			t.Errorf("DroppedDecisions = %d, want %d", got, before+1)
		}
	})
	t.Run("caller may change its input after logging", func(t *testing.T) {
		in := map[string]any{"k": "before"}
		db.LogDecision(engine.Decision{ID: "dec_mut", Input: in})
		in["k"] = "after"
		got, err := db.Decision(ctx, "dec_mut")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]any{"k": "before"}, got.Input); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestDecisionErasedWithUser(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	mustUser(t, db, "u2")
	for i := range 5 {
		db.LogDecision(decision(fmt.Sprintf("dec_u1_%d", i), "u1"))
	}
	db.LogDecision(decision("dec_u2", "u2"))
	db.LogDecision(decision("dec_anon", ""))
	if err := db.Erase(ctx, "u1", engine.ErasureProof{SubjectHash: "h1", DecisionID: "dec_u1_4"}, engine.Effects{}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		_, err := db.Decision(ctx, fmt.Sprintf("dec_u1_%d", i))
		wantErr(t, err, engine.ErrNotFound)
	}
	for _, id := range []string{"dec_u2", "dec_anon"} {
		if _, err := db.Decision(ctx, id); err != nil {
			t.Errorf("Decision(%s) after erasing u1: %v", id, err)
		}
	}
}

func TestDecisionTTL(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a TTL of one second")
	}
	ctx := context.Background()
	db := mustOpen(t, badgerstore.Options{InMemory: true, DecisionTTL: time.Second})
	db.LogDecision(decision("dec_ttl", "u1"))
	if _, err := db.Decision(ctx, "dec_ttl"); err != nil {
		t.Fatal(err)
	}
	// Badger's TTLs have a resolution of one second.
	time.Sleep(2100 * time.Millisecond)
	_, err := db.Decision(ctx, "dec_ttl")
	wantErr(t, err, engine.ErrNotFound)
}

// TestDecisionErasedFromSegments: erasing a user overwrites the bytes of the
// user's logged decisions in the segment files, not only their index.
func TestDecisionErasedFromSegments(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := mustOpen(t, badgerstore.Options{Dir: dir})
	mustUser(t, db, "gone")
	d := decision("dec_gone", "gone")
	d.Input = map[string]any{"marker": "very-personal-7731"}
	db.LogDecision(d)
	db.LogDecision(decision("dec_other", "stays"))
	mustClose(t, db) // writes what is queued

	db = mustOpen(t, badgerstore.Options{Dir: dir})
	if _, err := db.Decision(ctx, "dec_gone"); err != nil {
		t.Fatal(err)
	}
	if err := db.Erase(ctx, "gone", engine.ErasureProof{SubjectHash: "h"}, engine.Effects{}); err != nil {
		t.Fatal(err)
	}
	_, err := db.Decision(ctx, "dec_gone")
	wantErr(t, err, engine.ErrNotFound)
	if _, err := db.Decision(ctx, "dec_other"); err != nil {
		t.Errorf("another user's decision: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "decisions", "*.ndjson"))
	if len(files) == 0 {
		t.Fatal("no decision segment files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("very-personal-7731")) {
			t.Errorf("%s still holds the erased decision", f)
		}
	}
}

// TestDecisionIndexMovedOutOfTheStore: a data directory from a heed that
// kept the decision index in the store (d/ and du/ keys) opens with the
// entries moved to the index, expiry kept: the decisions stay readable and
// erasable.
func TestDecisionIndexMovedOutOfTheStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	index := filepath.Join(dir, "decisions", "index")
	db := mustOpen(t, badgerstore.Options{Dir: dir})
	mustUser(t, db, "u1")
	db.LogDecision(decision("dec_old_1", "u1"))
	db.LogDecision(decision("dec_old_2", ""))
	mustClose(t, db)

	// Put the index where an older heed kept it.
	type entry struct {
		k, v    []byte
		expires uint64
	}
	var moved []entry
	rawDo(t, index, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			moved = append(moved, entry{it.Item().KeyCopy(nil), v, it.Item().ExpiresAt()})
		}
		for _, e := range moved {
			if err := txn.Delete(e.k); err != nil {
				return err
			}
		}
		return nil
	})
	if len(moved) != 3 { // d/dec_old_1, d/dec_old_2, du/u1/dec_old_1
		t.Fatalf("setup: %d index entries, want 3", len(moved))
	}
	rawDo(t, dir, func(txn *badger.Txn) error {
		for _, e := range moved {
			ent := badger.NewEntry(e.k, e.v)
			ent.ExpiresAt = e.expires
			if err := txn.SetEntry(ent); err != nil {
				return err
			}
		}
		return nil
	})

	db = mustOpen(t, badgerstore.Options{Dir: dir})
	for _, id := range []string{"dec_old_1", "dec_old_2"} {
		if _, err := db.Decision(ctx, id); err != nil {
			t.Errorf("Decision(%s) after the move: %v", id, err)
		}
	}
	if err := db.Erase(ctx, "u1", engine.ErasureProof{SubjectHash: "h1"}, engine.Effects{}); err != nil {
		t.Fatal(err)
	}
	_, err := db.Decision(ctx, "dec_old_1")
	wantErr(t, err, engine.ErrNotFound)
	mustClose(t, db)
	for _, prefix := range []string{"d/", "du/"} {
		if keys := rawKeys(t, dir, prefix); len(keys) != 0 {
			t.Errorf("store keys under %q after the move: %q", prefix, keys)
		}
	}
	var expiring int
	rawDo(t, index, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if it.Item().ExpiresAt() > 0 {
				expiring++
			}
		}
		return nil
	})
	if expiring != 1 { // d/dec_old_2; u1's went with the erasure
		t.Errorf("%d index entries with an expiry, want 1", expiring)
	}
}
