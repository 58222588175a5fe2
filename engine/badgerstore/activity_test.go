package badgerstore_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
	"heed/engine/badgerstore"
)

func TestActivityPaging(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	mustUser(t, db, "u2")
	// Seven entries; two share a time (the later appended comes first), and
	// entries of another user and of an unknown one are interleaved.
	var entries []engine.ActivityEntry
	for i, sec := range []int{1, 2, 3, 4, 4, 6, 7} {
		entries = append(entries,
			engine.ActivityEntry{ID: fmt.Sprintf("e%d", i), User: "u1", At: t0.Add(time.Duration(sec) * time.Second), Action: engine.ActionRecommendation, Actor: "storefront"},
			engine.ActivityEntry{ID: fmt.Sprintf("x%d", i), User: "u2", At: t0, Action: engine.ActionRecommendation},
			engine.ActivityEntry{ID: fmt.Sprintf("n%d", i), User: "nobody", At: t0, Action: engine.ActionRecommendation},
		)
	}
	if err := db.AppendActivity(ctx, entries...); err != nil {
		t.Fatalf("AppendActivity with an unknown user's entries: %v", err)
	}

	var pages [][]string
	cursor := ""
	for range 10 {
		got, next, err := db.Activity(ctx, "u1", cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		var page []string
		for _, e := range got {
			page = append(page, e.ID)
		}
		pages = append(pages, page)
		if next == "" {
			break
		}
		cursor = next
	}
	want := [][]string{{"e6", "e5", "e4"}, {"e3", "e2", "e1"}, {"e0"}}
	if diff := cmp.Diff(want, pages); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}

	t.Run("exact last page has no next cursor", func(t *testing.T) {
		got, next, err := db.Activity(ctx, "u1", "", 7)
		if err != nil || len(got) != 7 || next != "" {
			t.Errorf("= %d entries, next %q, %v; want 7, \"\", nil", len(got), next, err)
		}
	})
	t.Run("default limit", func(t *testing.T) {
		got, _, err := db.Activity(ctx, "u1", "", 0)
		if err != nil || len(got) != 7 {
			t.Errorf("= %d entries, %v; want 7", len(got), err)
		}
	})
	t.Run("no activity", func(t *testing.T) {
		mustUser(t, db, "u3")
		got, next, err := db.Activity(ctx, "u3", "", 10)
		if err != nil || len(got) != 0 || next != "" {
			t.Errorf("= %v, %q, %v; want empty", got, next, err)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		_, _, err := db.Activity(ctx, "nobody", "", 10)
		wantErr(t, err, engine.ErrNotFound)
	})
	for _, bad := range []string{"not base64!", base64.RawURLEncoding.EncodeToString([]byte("short")), "AAAA"} {
		t.Run("bad cursor "+bad, func(t *testing.T) {
			_, _, err := db.Activity(ctx, "u1", bad, 3)
			var ve *engine.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, engine.ErrInvalid) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if len(ve.Problems) != 1 || ve.Problems[0].Field != "cursor" {
				t.Errorf("problems = %+v, want one on field cursor", ve.Problems)
			}
		})
	}
}

func TestActivityEntryRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	e := engine.ActivityEntry{ID: "act_1", User: "u1", At: t0, Action: engine.ActionRecommendation, Purpose: engine.PurposePersonalization,
		Channel: engine.ChannelPush, Signals: []engine.Signal{engine.SignalPurchases, engine.SignalRegion}, Actor: "storefront",
		DecisionID: "dec_1", Reason: "granted", Detail: "served 10 items"}
	noTime := engine.ActivityEntry{ID: "act_2", User: "u1", Action: engine.ActionExport}
	before := time.Now()
	if err := db.AppendActivity(ctx, e, noTime); err != nil {
		t.Fatal(err)
	}
	got, _, err := db.Activity(ctx, "u1", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "act_2" || got[0].At.Before(before) {
		t.Fatalf("got %+v, want act_2 first with its time set to now", got)
	}
	if diff := cmp.Diff(e, got[1]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestQueueActivity: queued entries are seen by the next Activity read,
// survive Close, and an erased user's queued entries are not kept.
func TestQueueActivity(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := mustOpen(t, badgerstore.Options{Dir: dir})
	mustUser(t, db, "q1")
	mustUser(t, db, "q2")
	for i := range 3 {
		db.QueueActivity(engine.ActivityEntry{ID: fmt.Sprintf("act_%d", i), User: "q1", Action: engine.ActionRecommendation, At: t0.Add(time.Duration(i) * time.Second)})
	}
	got, _, err := db.Activity(ctx, "q1", "", 10)
	if err != nil || len(got) != 3 || got[0].ID != "act_2" {
		t.Fatalf("Activity after QueueActivity = %v, %v; want the 3 entries, newest first", got, err)
	}
	db.QueueActivity(engine.ActivityEntry{ID: "act_last", User: "q2", Action: engine.ActionRecommendation, At: t0})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, badgerstore.Options{Dir: dir})
	if got, _, err := db.Activity(ctx, "q2", "", 10); err != nil || len(got) != 1 {
		t.Errorf("an entry queued before Close: %v, %v", got, err)
	}
	db.QueueActivity(engine.ActivityEntry{ID: "act_gone", User: "q1", Action: engine.ActionRecommendation, At: t0})
	if err := db.Erase(ctx, "q1", engine.ErasureProof{SubjectHash: "h-q1"}, engine.Effects{}); err != nil {
		t.Fatal(err)
	}
	db.QueueActivity(engine.ActivityEntry{ID: "act_after", User: "q1", Action: engine.ActionRecommendation, At: t0})
	// Registered again, later: a new user with an empty usage log.
	if _, err := db.PutUser(ctx, "q1", engine.Profile{}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _, err := db.Activity(ctx, "q1", "", 10); err != nil || len(got) != 0 {
		t.Errorf("the re-registered user's log holds %v, %v; want nothing of the erased user", got, err)
	}
	if db.DroppedActivity() != 0 {
		t.Errorf("DroppedActivity = %d", db.DroppedActivity())
	}
}

// TestQueueActivityWindow: a queued entry is written without a read asking
// for it, and a steady trickle of entries is committed a window at a time,
// not one commit after another (every read of the store waits for the
// commits in flight).
func TestQueueActivityWindow(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, badgerstore.Options{Dir: t.TempDir()})
	mustUser(t, db, "w1")
	db.QueueActivity(engine.ActivityEntry{ID: "act_alone", User: "w1", Action: engine.ActionRecommendation, At: t0})
	for deadline := time.Now().Add(10 * time.Second); db.ActivityCommits() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a queued entry was not written within 10 s without a read")
		}
	}
	// 100 entries a millisecond apart: a tenth of a second, about one
	// window, so at most a few commits, where a writer committing as soon as
	// it can would commit dozens of times (an fsync each).
	before := db.ActivityCommits()
	for i := range 100 {
		db.QueueActivity(engine.ActivityEntry{ID: fmt.Sprintf("act_%d", i), User: "w1", Action: engine.ActionRecommendation, At: t0.Add(time.Duration(i) * time.Second)})
		time.Sleep(time.Millisecond)
	}
	got, _, err := db.Activity(ctx, "w1", "", 200)
	if err != nil || len(got) != 101 {
		t.Fatalf("Activity = %d entries, %v; want 101", len(got), err)
	}
	if n := db.ActivityCommits() - before; n > 5 {
		t.Errorf("100 entries over 0.1 s took %d commits; want a few", n)
	}
}
