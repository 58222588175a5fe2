package badgerstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
	"heed/engine/badgerstore"
)

func ev(id string, user engine.UserID, sec int) engine.Event {
	return engine.Event{ID: id, Type: engine.EventView, User: user, Item: "sku-1", Touchpoint: engine.TouchpointApp,
		OccurredAt: t0.Add(time.Duration(sec) * time.Second)}
}

func eventIDs(evs []engine.Event) []string {
	ids := []string{}
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	return ids
}

func mustEvents(tb testing.TB, db *badgerstore.DB, id engine.UserID, limit int) []string {
	tb.Helper()
	evs, err := db.Events(context.Background(), id, limit)
	if err != nil {
		tb.Fatal(err)
	}
	return eventIDs(evs)
}

func TestAppendEvents(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, badgerstore.Options{Dir: t.TempDir()})
	mustUser(t, db, "u1")
	mustUser(t, db, "u2")
	buy := engine.Event{ID: "e4", Type: engine.EventPurchase, User: "u1", Order: "o1", OccurredAt: t0.Add(-time.Hour),
		Items: []engine.LineItem{{Item: "sku-1", Quantity: 2, Price: 9.5}}}
	err := db.AppendEvents(ctx, engine.EventBatch{
		// out of time order on purpose; "ghost" does not exist
		Events: []engine.Event{ev("e1", "u1", 30), ev("e2", "u1", 10), ev("e3", "u2", 0), buy, ev("e5", "ghost", 0)},
		Users: []engine.UserEvents{
			{User: "u1", Orders: 1, FirstPurchaseAt: buy.OccurredAt, Interests: []engine.InterestTag{{Tag: "category:shoes", Weight: 1, UpdatedAt: t0}}},
			{User: "ghost", Orders: 1},
		},
		Effects: engine.Effects{Activity: []engine.ActivityEntry{
			{ID: "a1", User: "u1", At: t0, Action: engine.ActionEventsCollected},
			{ID: "a2", User: "ghost", At: t0, Action: engine.ActionEventsCollected},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"e4", "e2", "e1"}, mustEvents(t, db, "u1", 0)); diff != "" {
		t.Errorf("Events(u1, all), oldest first (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"e2", "e1"}, mustEvents(t, db, "u1", 2)); diff != "" {
		t.Errorf("Events(u1, 2): the newest two, oldest first (-want +got):\n%s", diff)
	}
	evs, err := db.Events(ctx, "u1", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := ev("e1", "u1", 30)
	if diff := cmp.Diff([]engine.Event{want}, evs); diff != "" {
		t.Errorf("event round trip (-want +got):\n%s", diff)
	}
	u, err := db.User(ctx, "u1")
	if err != nil || u.OrderCount != 1 || !u.FirstPurchaseAt.Equal(buy.OccurredAt) {
		t.Errorf("user = %d orders, first %v, %v", u.OrderCount, u.FirstPurchaseAt, err)
	}
	in, err := db.Interests(ctx, "u1")
	if err != nil || len(in.Tags) != 1 || in.Tags[0].Weight != 1 {
		t.Errorf("interests = %+v, %v", in, err)
	}
	act, _, err := db.Activity(ctx, "u1", "", 10)
	if err != nil || len(act) != 1 || act[0].ID != "a1" {
		t.Errorf("activity = %+v, %v", act, err)
	}
	if _, err := db.Events(ctx, "ghost", 0); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Events(ghost) err = %v; want ErrNotFound", err)
	}

	t.Run("a second purchase keeps the earlier first purchase", func(t *testing.T) {
		later := buy
		later.ID, later.OccurredAt = "e6", t0
		if err := db.AppendEvents(ctx, engine.EventBatch{Events: []engine.Event{later},
			Users: []engine.UserEvents{{User: "u1", Orders: 1, FirstPurchaseAt: later.OccurredAt}}}); err != nil {
			t.Fatal(err)
		}
		u, err := db.User(ctx, "u1")
		if err != nil || u.OrderCount != 2 || !u.FirstPurchaseAt.Equal(buy.OccurredAt) {
			t.Errorf("user = %d orders, first %v, %v", u.OrderCount, u.FirstPurchaseAt, err)
		}
	})
	t.Run("invalid batch writes nothing", func(t *testing.T) {
		err := db.AppendEvents(ctx, engine.EventBatch{Events: []engine.Event{ev("e7", "u2", 5), {User: "u2", OccurredAt: t0}}})
		if !errors.Is(err, engine.ErrInvalid) {
			t.Fatalf("err = %v; want ErrInvalid", err)
		}
		if diff := cmp.Diff([]string{"e3"}, mustEvents(t, db, "u2", 0)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("deleted tags stay deleted", func(t *testing.T) {
		if err := db.DeleteInterest(ctx, "u2", "category:bags", engine.Effects{}); err != nil {
			t.Fatal(err)
		}
		if err := db.AppendEvents(ctx, engine.EventBatch{Users: []engine.UserEvents{{User: "u2",
			Interests: []engine.InterestTag{{Tag: "category:bags", Weight: 1, UpdatedAt: t0}, {Tag: "tag:x", Weight: 0.2, UpdatedAt: t0}}}}}); err != nil {
			t.Fatal(err)
		}
		in, err := db.Interests(ctx, "u2")
		if err != nil || len(in.Tags) != 1 || in.Tags[0].Tag != "tag:x" {
			t.Errorf("interests = %+v, %v; want tag:x only", in, err)
		}
	})
	t.Run("durable", func(t *testing.T) {
		dir := t.TempDir()
		db := mustOpen(t, badgerstore.Options{Dir: dir})
		mustUser(t, db, "u1")
		if err := db.AppendEvents(ctx, engine.EventBatch{Events: []engine.Event{ev("d1", "u1", 0)}}); err != nil {
			t.Fatal(err)
		}
		mustClose(t, db)
		db = mustOpen(t, badgerstore.Options{Dir: dir})
		if diff := cmp.Diff([]string{"d1"}, mustEvents(t, db, "u1", 0)); diff != "" {
			t.Errorf("after reopening (-want +got):\n%s", diff)
		}
	})
}

// TestAppendEventsConcurrent checks that concurrent batches touching the
// same users (group-committed together) lose no update.
func TestAppendEventsConcurrent(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, badgerstore.Options{Dir: t.TempDir()})
	mustUser(t, db, "u1")
	mustUser(t, db, "u2")
	mustUser(t, db, "u3")
	const writers, batches = 8, 10
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range batches {
				id := fmt.Sprintf("w%d-%d", w, i)
				errs <- db.AppendEvents(ctx, engine.EventBatch{
					Events: []engine.Event{ev(id+"a", "u1", i), ev(id+"b", "u2", i)},
					Users: []engine.UserEvents{
						{User: "u1", Orders: 1, Interests: []engine.InterestTag{{Tag: "t", Weight: 1, UpdatedAt: t0}}},
						{User: "u2", Orders: 2},
						// Only touchpoints: a batch racing another one that
						// added them first has nothing to write.
						{User: "u3", Touchpoints: []engine.Touchpoint{engine.TouchpointApp, engine.Touchpoint([]string{"web", "store"}[i%2])}},
					}})
			}
		}()
	}
	for range writers * batches {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	u1, _ := db.User(ctx, "u1")
	u2, _ := db.User(ctx, "u2")
	in, _ := db.Interests(ctx, "u1")
	if u1.OrderCount != writers*batches || u2.OrderCount != 2*writers*batches || len(in.Tags) != 1 || in.Tags[0].Weight != writers*batches {
		t.Errorf("orders %d, %d, interests %+v; want %d, %d, weight %d", u1.OrderCount, u2.OrderCount, in.Tags,
			writers*batches, 2*writers*batches, writers*batches)
	}
	if n := len(mustEvents(t, db, "u1", 0)); n != writers*batches {
		t.Errorf("%d events; want %d", n, writers*batches)
	}
	u3, err := db.User(ctx, "u3")
	if err != nil || u3.ID != "u3" || len(u3.Touchpoints) != 3 {
		t.Errorf("u3 = %+v, %v; want its profile intact with touchpoints app, web and store", u3, err)
	}
}

func TestScanEvents(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	users := []engine.UserID{"a", "ab", "b"}
	var want []string
	for _, u := range users {
		mustUser(t, db, u)
	}
	// more than one scan chunk (4096)
	for _, u := range users {
		var evs []engine.Event
		for i := range 1500 {
			id := fmt.Sprintf("%s-%04d", u, i)
			evs = append(evs, ev(id, u, i))
			want = append(want, id)
		}
		if err := db.AppendEvents(ctx, engine.EventBatch{Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for e, err := range db.ScanEvents(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user by user, oldest first (-want +got):\n%s", diff)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := 0
	for _, err := range db.ScanEvents(cctx) {
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v; want context.Canceled", err)
			}
			break
		}
		if n++; n == 10 {
			cancel()
		}
	}
	if n != 10 {
		t.Errorf("scan went on for %d events after cancel", n-10)
	}
}

func TestItems(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	var items []engine.Item
	for i := range 600 { // more than one write chunk
		items = append(items, engine.Item{ID: engine.ItemID(fmt.Sprintf("sku-%03d", i)), Title: "x", Tags: []string{"a"}, Price: 1})
	}
	if err := db.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	items[5].Title = "renamed"
	if err := db.PutItems(ctx, items[5:6]); err != nil {
		t.Fatal(err)
	}
	got, err := db.Items(ctx, []engine.ItemID{"sku-005", "sku-599", "nope", "sku-005"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[engine.ItemID]engine.Item{"sku-005": items[5], "sku-599": items[599]}, got); diff != "" {
		t.Errorf("Items (-want +got):\n%s", diff)
	}
	var scanned []engine.Item
	for it, err := range db.ScanItems(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		scanned = append(scanned, it)
	}
	if diff := cmp.Diff(items, scanned); diff != "" {
		t.Errorf("ScanItems (-want +got):\n%s", diff)
	}
	if err := db.PutItems(ctx, []engine.Item{{Title: "no id"}}); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("PutItems without id: %v; want ErrInvalid", err)
	}
}

func TestEventsEraseAndMerge(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	for _, u := range []engine.UserID{"surv", "abs", "gone", "other"} {
		mustUser(t, db, u)
	}
	if err := db.AppendEvents(ctx, engine.EventBatch{Events: []engine.Event{
		ev("s1", "surv", 10), ev("a1", "abs", 5), ev("a2", "abs", 20), ev("g1", "gone", 0), ev("o1", "other", 0),
	}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Erase(ctx, "gone", engine.ErasureProof{SubjectHash: "h"}, engine.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Merge(ctx, engine.Merge{Survivor: "surv", Absorbed: "abs"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a1", "s1", "a2"}, mustEvents(t, db, "surv", 0)); diff != "" {
		t.Errorf("survivor's events, in time order (-want +got):\n%s", diff)
	}
	var all []string
	for e, err := range db.ScanEvents(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, string(e.User)+"/"+e.ID)
	}
	if diff := cmp.Diff([]string{"other/o1", "surv/a1", "surv/s1", "surv/a2"}, all); diff != "" {
		t.Errorf("after erasure and merge (-want +got):\n%s", diff)
	}
	// A user re-created with an erased id starts without events.
	mustUser(t, db, "gone")
	if got := mustEvents(t, db, "gone", 0); len(got) != 0 {
		t.Errorf("re-created user has events %v", got)
	}
}

// TestPersonalData: the newest events a filter keeps, oldest first, with the
// deleted tags and the preferences, in one read.
func TestPersonalData(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, badgerstore.Options{Dir: t.TempDir()})
	mustUser(t, db, "p1")
	buy := func(id string, sec int) engine.Event {
		return engine.Event{ID: id, Type: engine.EventPurchase, User: "p1", Order: "o" + id, OccurredAt: t0.Add(time.Duration(sec) * time.Second),
			Items: []engine.LineItem{{Item: "sku-1", Quantity: 1, Price: 1}}}
	}
	// Views and purchases interleaved: v1 b2 v3 b4 v5 b6 v7.
	evs := []engine.Event{ev("v1", "p1", 1), buy("b2", 2), ev("v3", "p1", 3), buy("b4", 4), ev("v5", "p1", 5), buy("b6", 6), ev("v7", "p1", 7)}
	if err := db.AppendEvents(ctx, engine.EventBatch{Events: evs}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteInterest(ctx, "p1", "category:shoes", engine.Effects{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdatePreferences(ctx, "p1", func(p engine.Preferences) (engine.Preferences, engine.Effects, error) {
		p.Categories = []string{"kitchen"}
		return p, engine.Effects{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	purchases := func(e engine.Event) bool { return e.Type == engine.EventPurchase }
	for _, c := range []struct {
		limit int
		keep  func(engine.Event) bool
		want  []string
	}{
		{2, purchases, []string{"b4", "b6"}},
		{0, purchases, []string{"b2", "b4", "b6"}},
		{10, purchases, []string{"b2", "b4", "b6"}},
		{3, nil, []string{"v5", "b6", "v7"}},
	} {
		d, err := db.PersonalData(ctx, "p1", c.limit, c.keep)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c.want, eventIDs(d.Events)); diff != "" {
			t.Errorf("limit %d: events (-want +got):\n%s", c.limit, diff)
		}
		if diff := cmp.Diff([]string{"category:shoes"}, d.Deleted); diff != "" {
			t.Errorf("deleted (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"kitchen"}, d.Preferences.Categories); diff != "" {
			t.Errorf("preferences (-want +got):\n%s", diff)
		}
	}
	if _, err := db.PersonalData(ctx, "ghost", 10, nil); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("PersonalData(ghost) err = %v; want ErrNotFound", err)
	}
}
