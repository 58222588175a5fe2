package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
	"heed/engine/badgerstore"
	"heed/policies"
)

// now is the service's clock in these tests.
var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// A fakeRecommender records the items it was given.
type fakeRecommender struct {
	mu    sync.Mutex
	items []engine.Item
}

func (r *fakeRecommender) Recommend(engine.RecRequest) []engine.Recommended { return nil }
func (r *fakeRecommender) PutItems(items ...engine.Item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, items...)
}

type env struct {
	svc *engine.Service
	db  *badgerstore.DB
	rec *fakeRecommender
	ctx context.Context
}

// newEnv returns a Service over a real Badger store on disk and the real
// policies, acting as the storefront.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	return newEnvGate(tb, func(g engine.Gate) engine.Gate { return g })
}

// newEnvGate is newEnv with the gate wrap returns around the real policies.
func newEnvGate(tb testing.TB, wrap func(engine.Gate) engine.Gate) *env {
	tb.Helper()
	return newEnvWith(tb, wrap, func(*engine.Options) {})
}

// newEnvWith is newEnvGate with the Service's options edited by edit.
func newEnvWith(tb testing.TB, wrap func(engine.Gate) engine.Gate, edit func(*engine.Options)) *env {
	tb.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	db, err := badgerstore.Open(ctx, badgerstore.Options{Dir: tb.TempDir()}, log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	pol, err := policies.New(ctx, policies.Options{}, log)
	if err != nil {
		tb.Fatal(err)
	}
	rec := &fakeRecommender{}
	opts := engine.Options{ProofKey: []byte("k"), Recommender: rec, Now: func() time.Time { return now }}
	edit(&opts)
	svc := engine.NewService(db, wrap(pol), opts, log)
	return &env{svc: svc, db: db, rec: rec, ctx: engine.WithActor(ctx, engine.Actor{Role: engine.RoleStorefront})}
}

func (e *env) user(tb testing.TB, id engine.UserID, grants ...engine.ConsentRecord) {
	tb.Helper()
	if _, err := e.svc.PutUser(e.ctx, id, engine.Profile{Region: "310000"}); err != nil {
		tb.Fatal(err)
	}
	if len(grants) > 0 {
		if _, err := e.svc.RecordConsents(e.ctx, id, grants); err != nil {
			tb.Fatal(err)
		}
	}
}

func (e *env) items(tb testing.TB, items ...engine.Item) {
	tb.Helper()
	if _, err := e.svc.PutItems(e.ctx, items); err != nil {
		tb.Fatal(err)
	}
}

func grant(p engine.Purpose, s engine.Signal, tp engine.Touchpoint) engine.ConsentRecord {
	return engine.ConsentRecord{Purpose: p, Signal: s, Touchpoint: tp, Status: engine.StatusGranted, Source: "app"}
}

func withdraw(p engine.Purpose, s engine.Signal) engine.ConsentRecord {
	return engine.ConsentRecord{Purpose: p, Signal: s, Status: engine.StatusWithdrawn, Source: "app"}
}

var catalog = []engine.Item{
	{ID: "sku-1", Title: "Runner", Category: "shoes", Tags: []string{"sport"}, Price: 399, InStock: true},
	{ID: "sku-2", Title: "Tote", Category: "bags", Price: 99, InStock: true},
	{ID: "sku-3", Title: "Sock", Category: "shoes", Price: 9, InStock: true},
}

func view(u engine.UserID, item engine.ItemID, tp engine.Touchpoint, at time.Time) engine.Event {
	return engine.Event{Type: engine.EventView, User: u, Item: item, Touchpoint: tp, OccurredAt: at}
}

func purchase(u engine.UserID, order string, at time.Time, items ...engine.ItemID) engine.Event {
	e := engine.Event{Type: engine.EventPurchase, User: u, Order: order, Touchpoint: engine.TouchpointApp, OccurredAt: at}
	for _, it := range items {
		e.Items = append(e.Items, engine.LineItem{Item: it, Quantity: 1, Price: 10})
	}
	return e
}

func TestPutItems(t *testing.T) {
	e := newEnv(t)
	n, err := e.svc.PutItems(e.ctx, catalog)
	if err != nil || n != 3 {
		t.Fatalf("PutItems = %d, %v; want 3, nil", n, err)
	}
	got, err := e.svc.Items(e.ctx, []engine.ItemID{"sku-2", "nope"})
	if err != nil {
		t.Fatal(err)
	}
	want := catalog[1]
	want.UpdatedAt = now
	if diff := cmp.Diff(map[engine.ItemID]engine.Item{"sku-2": want}, got); diff != "" {
		t.Errorf("Items (-want +got):\n%s", diff)
	}
	if len(e.rec.items) != 3 {
		t.Errorf("recommender got %d items; want 3", len(e.rec.items))
	}

	_, err = e.svc.PutItems(e.ctx, []engine.Item{{ID: "ok", Title: "x"}, {ID: "bad/id", Title: ""}})
	assertFields(t, err, "items[1].id", "items[1].title")
	var ids []engine.ItemID
	for it, err := range e.svc.ScanItems(e.ctx) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, it.ID)
	}
	if diff := cmp.Diff([]engine.ItemID{"sku-1", "sku-2", "sku-3"}, ids); diff != "" {
		t.Errorf("ScanItems after a rejected batch (-want +got):\n%s", diff)
	}
}

// assertFields checks that err is a *ValidationError naming exactly fields.
func assertFields(tb testing.TB, err error, fields ...string) {
	tb.Helper()
	var v *engine.ValidationError
	if !errors.As(err, &v) || !errors.Is(err, engine.ErrInvalid) {
		tb.Fatalf("err = %v; want a *ValidationError", err)
	}
	var got []string
	for _, p := range v.Problems {
		got = append(got, p.Field)
	}
	if diff := cmp.Diff(fields, got); diff != "" {
		tb.Errorf("problem fields (-want +got):\n%s\n%v", diff, err)
	}
}

func TestRecordEventsValidation(t *testing.T) {
	e := newEnv(t)
	e.items(t, catalog...)
	e.user(t, "u1", grant(engine.PurposePersonalization, "", ""))
	at := now.Add(-time.Hour)
	tests := []struct {
		name   string
		events []engine.Event
		fields []string
	}{
		{"empty", nil, []string{"events"}},
		{"too many", make([]engine.Event, engine.MaxEventsPerBatch+1), []string{"events"}},
		{"bad type and time", []engine.Event{view("u1", "sku-1", "app", at), {Type: "poke", User: "u1"}},
			[]string{"events[1].type", "events[1].occurred_at"}},
		{"unknown user", []engine.Event{view("u1", "sku-1", "app", at), view("ghost", "sku-1", "app", at), view("ghost", "sku-2", "app", at)},
			[]string{"events[1].user_id", "events[2].user_id"}},
		{"unknown items", []engine.Event{view("u1", "nope", "app", at), purchase("u1", "o1", at, "sku-1", "gone")},
			[]string{"events[0].item_id", "events[1].items[1].item_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.RecordEvents(e.ctx, tt.events)
			assertFields(t, err, tt.fields...)
			evs, err := e.db.Events(e.ctx, "u1", 0)
			if err != nil || len(evs) != 0 {
				t.Errorf("stored %d events, %v; want none", len(evs), err)
			}
		})
	}
}

func TestRecordEvents(t *testing.T) {
	e := newEnv(t)
	e.items(t, catalog...)
	// all: personalization granted. analytics: only analytics. none: nothing.
	// webonly: browsing granted on the web only.
	e.user(t, "all", grant(engine.PurposePersonalization, "", ""))
	e.user(t, "analytics", grant(engine.PurposeAnalytics, "", ""))
	e.user(t, "none")
	e.user(t, "webonly", grant(engine.PurposePersonalization, engine.SignalBrowsing, engine.TouchpointWeb))
	at := now.Add(-time.Hour)
	res, err := e.svc.RecordEvents(e.ctx, []engine.Event{
		0: view("all", "sku-1", "app", at),
		1: purchase("all", "o1", at.Add(time.Minute), "sku-1", "sku-2"),
		2: view("analytics", "sku-1", "app", at),
		3: view("none", "sku-1", "app", at),
		4: purchase("none", "o2", at, "sku-3"),
		5: view("webonly", "sku-2", "web", at),
		6: view("webonly", "sku-2", "app", at),
		7: {Type: engine.EventSearch, User: "none", Query: "shoes", Touchpoint: "app", OccurredAt: at},
		8: view("all", "sku-3", "app", at.Add(2*time.Minute)),
	})
	if err != nil {
		t.Fatal(err)
	}
	reason := func(typ string) string {
		return fmt.Sprintf("no consent to collect %s events (neither the signal nor analytics is allowed)", typ)
	}
	want := engine.EventResult{Accepted: 6, Dropped: []engine.DroppedEvent{
		{Index: 3, Reason: reason("view")}, {Index: 6, Reason: reason("view")}, {Index: 7, Reason: reason("search")}}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("RecordEvents (-want +got):\n%s", diff)
	}

	t.Run("stored", func(t *testing.T) {
		counts := map[engine.UserID]int{"all": 3, "analytics": 1, "none": 1, "webonly": 1}
		for u, n := range counts {
			evs, err := e.db.Events(e.ctx, u, 0)
			if err != nil || len(evs) != n {
				t.Errorf("%s: %d events, %v; want %d", u, len(evs), err, n)
			}
			for _, ev := range evs {
				if !strings.HasPrefix(ev.ID, "evt_") {
					t.Errorf("%s: event id %q", u, ev.ID)
				}
			}
		}
	})
	t.Run("orders", func(t *testing.T) {
		for _, u := range []engine.UserID{"all", "none"} {
			usr, err := e.svc.User(e.ctx, u)
			if err != nil || usr.OrderCount != 1 || usr.FirstPurchaseAt.IsZero() {
				t.Errorf("%s: order count %d, first purchase %v, %v", u, usr.OrderCount, usr.FirstPurchaseAt, err)
			}
		}
	})
	t.Run("interests only from allowed signals", func(t *testing.T) {
		in, err := e.svc.Interests(e.ctx, "all")
		if err != nil {
			t.Fatal(err)
		}
		// decayed to now from about an hour ago: close to the sums
		want := map[string]float64{"category:shoes": 0.2 + 1 + 0.2, "tag:sport": 0.2 + 1, "category:bags": 1}
		if len(in.Tags) != len(want) {
			t.Fatalf("tags = %v; want %v", in.Tags, want)
		}
		for _, tag := range in.Tags {
			if w := want[tag.Tag]; math.Abs(tag.Weight-w) > 0.01 || tag.Weight > w {
				t.Errorf("%s: weight %v; want just under %v", tag.Tag, tag.Weight, w)
			}
		}
		for _, u := range []engine.UserID{"analytics", "none"} {
			in, err := e.svc.Interests(e.ctx, u)
			if err != nil || len(in.Tags) != 0 {
				t.Errorf("%s: tags %v, %v; want none (kept on analytics or contract only)", u, in.Tags, err)
			}
		}
		in, err = e.svc.Interests(e.ctx, "webonly")
		if err != nil || len(in.Tags) != 1 || in.Tags[0].Tag != "category:bags" {
			t.Errorf("webonly: tags %v, %v; want category:bags", in.Tags, err)
		}
	})
	t.Run("usage log", func(t *testing.T) {
		entries, _, err := e.svc.Activity(e.ctx, "none", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(entries, func(a engine.ActivityEntry) bool { return a.Action == engine.ActionEventsCollected })
		if i < 0 {
			t.Fatalf("no %s entry in %+v", engine.ActionEventsCollected, entries)
		}
		a := entries[i]
		if a.DecisionID == "" || a.Reason != reason("view") || !strings.Contains(a.Detail, "stored 1 event (1 purchase); dropped 2") ||
			!slices.Equal(a.Signals, []engine.Signal{engine.SignalPurchases}) {
			t.Errorf("entry = %+v", a)
		}
		d, err := e.svc.Decision(e.ctx, a.DecisionID)
		if err != nil || d.Path != "heed/collect" || d.User != "none" {
			t.Errorf("decision %s = %+v, %v", a.DecisionID, d, err)
		}
	})
	t.Run("history", func(t *testing.T) {
		h, err := e.svc.History(e.ctx, "all", []engine.Signal{engine.SignalBrowsing}, 1)
		if err != nil || len(h) != 1 || h[0].Item != "sku-3" {
			t.Errorf("History(browsing, 1) = %+v, %v; want the newest view", h, err)
		}
		h, err = e.svc.History(e.ctx, "all", []engine.Signal{engine.SignalBrowsing, engine.SignalPurchases}, 0)
		if err != nil || len(h) != 3 || h[0].Type != engine.EventView || h[1].Type != engine.EventPurchase {
			t.Errorf("History(all) = %+v, %v; want 3, oldest first", h, err)
		}
		h, err = e.svc.History(e.ctx, "all", nil, 10)
		if err != nil || len(h) != 0 {
			t.Errorf("History(none allowed) = %+v, %v", h, err)
		}
	})
	t.Run("export", func(t *testing.T) {
		x, err := e.svc.Export(e.ctx, "all")
		if err != nil || len(x.Events) != 3 {
			t.Errorf("export has %d events, %v; want 3", len(x.Events), err)
		}
	})
	t.Run("training follows consent now", func(t *testing.T) {
		count := func() map[engine.UserID]int {
			n := map[engine.UserID]int{}
			for ev, err := range e.svc.TrainingEvents(e.ctx) {
				if err != nil {
					t.Fatal(err)
				}
				n[ev.User]++
			}
			return n
		}
		// webonly's grant is for the web only: not the general state.
		if diff := cmp.Diff(map[engine.UserID]int{"all": 3}, count()); diff != "" {
			t.Errorf("before (-want +got):\n%s", diff)
		}
		if _, err := e.svc.RecordConsents(e.ctx, "all", []engine.ConsentRecord{withdraw(engine.PurposePersonalization, engine.SignalPurchases)}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[engine.UserID]int{"all": 2}, count()); diff != "" {
			t.Errorf("after withdrawing purchases (-want +got):\n%s", diff)
		}
		if _, err := e.svc.Erase(e.ctx, "all"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[engine.UserID]int{}, count()); diff != "" {
			t.Errorf("after erasure (-want +got):\n%s", diff)
		}
	})
}

// TestRecordEventsDecidesOncePerQuestion checks the memo: many events of one
// user, signal and touchpoint take one consent and one collect decision.
func TestRecordEventsDecidesOncePerQuestion(t *testing.T) {
	e := newEnv(t)
	e.items(t, catalog...)
	e.user(t, "u1", grant(engine.PurposeAnalytics, "", ""))
	var evs []engine.Event
	for i := range 300 {
		evs = append(evs, view("u1", "sku-1", "app", now.Add(-time.Duration(i)*time.Second)))
	}
	if _, err := e.svc.RecordEvents(e.ctx, evs); err != nil {
		t.Fatal(err)
	}
	entries, _, err := e.svc.Activity(e.ctx, "u1", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, a := range entries {
		if a.Action == engine.ActionEventsCollected {
			n++
			if a.Detail != "stored 300 events (300 view)" {
				t.Errorf("detail %q", a.Detail)
			}
			d, err := e.svc.Decision(e.ctx, a.DecisionID)
			if err != nil {
				t.Fatal(err)
			}
			in, _ := json.Marshal(d.Input)
			var got struct {
				Consent []struct {
					Question struct{ Scope engine.Scope }
				}
				Collect []struct {
					AnalyticsAsked bool `json:"analytics_asked"`
					Events         int
				}
			}
			if err := json.Unmarshal(in, &got); err != nil {
				t.Fatal(err)
			}
			// the signal (denied), then analytics (which then decides), once each
			if len(got.Consent) != 2 || got.Consent[0].Question.Scope.Signal != engine.SignalBrowsing ||
				got.Consent[1].Question.Scope.Purpose != engine.PurposeAnalytics ||
				len(got.Collect) != 1 || got.Collect[0].Events != 300 || !got.Collect[0].AnalyticsAsked || !d.Allow {
				t.Errorf("decision = %s, allow %v", in, d.Allow)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d usage-log entries for one batch; want 1", n)
	}
}

func TestHistoryReadsFurtherBack(t *testing.T) {
	e := newEnv(t)
	e.items(t, catalog...)
	e.user(t, "u1", grant(engine.PurposePersonalization, "", ""))
	var evs []engine.Event
	evs = append(evs, purchase("u1", "o1", now.Add(-time.Hour), "sku-2"))
	for i := range 20 {
		evs = append(evs, view("u1", "sku-1", "app", now.Add(-time.Duration(30-i)*time.Minute)))
	}
	if _, err := e.svc.RecordEvents(e.ctx, evs); err != nil {
		t.Fatal(err)
	}
	h, err := e.svc.History(e.ctx, "u1", []engine.Signal{engine.SignalPurchases}, 2)
	if err != nil || len(h) != 1 || h[0].Type != engine.EventPurchase {
		t.Errorf("History = %+v, %v; want the one purchase behind 20 views", h, err)
	}
}

func TestInterestsDecay(t *testing.T) {
	in := engine.Interests{}
	t1 := now.Add(-engine.InterestHalfLife)
	in.Add(engine.InterestTag{Tag: "a", Weight: 1, UpdatedAt: t1.Add(-engine.InterestHalfLife)})
	in.Add(engine.InterestTag{Tag: "a", Weight: 1, UpdatedAt: t1})
	if w := in.Tags[0].Weight; math.Abs(w-1.5) > 1e-9 || !in.Tags[0].UpdatedAt.Equal(t1) {
		t.Errorf("after a half-life: %v at %v; want 1.5 at %v", w, in.Tags[0].UpdatedAt, t1)
	}
	in.Add(engine.InterestTag{Tag: "a", Weight: 2, UpdatedAt: t1.Add(-engine.InterestHalfLife)}) // an older event
	if w := in.Tags[0].Weight; math.Abs(w-2.5) > 1e-9 {
		t.Errorf("older delta: %v; want 2.5", w)
	}
	if w := in.At(now).Tags[0].Weight; math.Abs(w-1.25) > 1e-9 {
		t.Errorf("At(now) = %v; want 1.25", w)
	}
	in.Deleted = []string{"b"}
	if in.Add(engine.InterestTag{Tag: "b", Weight: 1, UpdatedAt: now}) || len(in.Tags) != 1 {
		t.Errorf("a deleted tag was added back: %+v", in)
	}
}

// TestPurchasedOutlivesTheRequest: the purchases of a stored batch are
// handed on (to campaign attribution) with a context that the caller's
// going away does not end: they are stored, so they count as conversions
// even when the client disconnected meanwhile.
func TestPurchasedOutlivesTheRequest(t *testing.T) {
	var handed context.Context
	var got []engine.Event
	e := newEnvWith(t, func(g engine.Gate) engine.Gate { return g }, func(o *engine.Options) {
		o.Purchased = func(ctx context.Context, ps []engine.Event) { handed, got = ctx, ps }
	})
	e.items(t, catalog...)
	e.user(t, "buyer", grant(engine.PurposePersonalization, "", ""))
	req, cancel := context.WithCancel(e.ctx)
	if _, err := e.svc.RecordEvents(req, []engine.Event{purchase("buyer", "o1", now.Add(-time.Hour), "sku-1"),
		view("buyer", "sku-2", engine.TouchpointApp, now.Add(-time.Minute))}); err != nil {
		t.Fatal(err)
	}
	cancel() // the client is gone
	if len(got) != 1 || got[0].Order != "o1" {
		t.Fatalf("Purchased got %+v; want the one purchase", got)
	}
	if err := handed.Err(); err != nil {
		t.Errorf("the purchases' context ends with the request: %v", err)
	}
}
