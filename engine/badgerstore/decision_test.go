package badgerstore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

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
