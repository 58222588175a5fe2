package engine_test

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

// A countingGate counts the consent questions asked of the gate it wraps,
// one by one and in batches.
type countingGate struct {
	engine.Gate
	mu                         sync.Mutex
	single, batches, questions int // guarded by mu
}

func (g *countingGate) Consent(ctx context.Context, q engine.ConsentQuestion) (engine.Verdict, error) {
	g.mu.Lock()
	g.single++
	g.mu.Unlock()
	return g.Gate.Consent(ctx, q)
}

func (g *countingGate) ConsentBatch(ctx context.Context, qs []engine.ConsentQuestion) ([]engine.Verdict, error) {
	g.mu.Lock()
	g.batches++
	g.questions += len(qs)
	g.mu.Unlock()
	return g.Gate.ConsentBatch(ctx, qs)
}

// counts returns and resets the counts.
func (g *countingGate) counts() (single, batches, questions int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	single, batches, questions = g.single, g.batches, g.questions
	g.single, g.batches, g.questions = 0, 0, 0
	return single, batches, questions
}

// TestConsentAskedInBatches checks that event ingestion, recommendations
// and training ask their consent questions together, and that ingestion
// still logs, per user, each question with its answer.
func TestConsentAskedInBatches(t *testing.T) {
	var g *countingGate
	e := newEnvGate(t, func(inner engine.Gate) engine.Gate {
		g = &countingGate{Gate: inner}
		return g
	})
	e.items(t, catalog...)
	e.user(t, "all", grant(engine.PurposePersonalization, "", ""), grant(engine.PurposeAnalytics, "", ""))
	e.user(t, "analytics", grant(engine.PurposeAnalytics, "", ""))
	e.user(t, "nothing")
	g.counts()

	at := now.Add(-time.Hour)
	var evs []engine.Event
	for _, u := range []engine.UserID{"all", "analytics", "nothing"} {
		evs = append(evs, view(u, "sku-1", "app", at), view(u, "sku-2", "web", at),
			purchase(u, "o-"+string(u), at, "sku-3"), view(u, "sku-3", "app", at))
	}
	res, err := e.svc.RecordEvents(e.ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	// all: everything; analytics: the views, on analytics consent, and the
	// purchase, on contract; nothing: the purchase.
	if res.Accepted != 4+4+1 || len(res.Dropped) != 3 {
		t.Errorf("RecordEvents = %+v; want 9 accepted, 3 dropped", res)
	}
	// Per user: browsing at app and web, purchases at app; analytics at app
	// and web for the two users whose signals are not allowed.
	if single, batches, questions := g.counts(); single != 0 || batches != 2 || questions != 3*3+2*2 {
		t.Errorf("RecordEvents asked %d single questions and %d batches of %d in all; want 0, 2 and 13", single, batches, questions)
	}
	entries, _, err := e.svc.Activity(e.ctx, "analytics", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.svc.Decision(e.ctx, entries[0].DecisionID)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(d.Input)
	var logged struct {
		Consent []struct {
			Question struct{ Scope engine.Scope }
			Result   map[string]any
		}
	}
	if err := json.Unmarshal(in, &logged); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range logged.Consent {
		got = append(got, fmt.Sprintf("%s/%s/%s: %v %v", c.Question.Scope.Purpose, c.Question.Scope.Signal,
			c.Question.Scope.Touchpoint, c.Result["allow"], c.Result["reasons"]))
	}
	want := []string{ // in the order deciding the events asked them
		"personalization/browsing/app: false [no_consent]",
		"analytics//app: true [granted]",
		"personalization/browsing/web: false [no_consent]",
		"analytics//web: true [granted]",
		"personalization/purchases/app: false [no_consent]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logged consent answers (-want +got):\n%s\n%s", diff, in)
	}

	if _, err := e.svc.Recommend(e.ctx, "all", engine.RecQuery{Touchpoint: engine.TouchpointApp}); err != nil {
		t.Fatal(err)
	}
	if single, batches, questions := g.counts(); single != 0 || batches != 1 || questions != len(engine.Signals) {
		t.Errorf("Recommend asked %d single questions and %d batches of %d in all; want 0, 1 and %d", single, batches, questions, len(engine.Signals))
	}

	n := 0
	for _, err := range e.svc.TrainingEvents(e.ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 4 {
		t.Errorf("TrainingEvents yielded %d events; want all's 4", n)
	}
	// all and analytics have events of browsing and purchases, nothing of
	// purchases.
	if single, batches, questions := g.counts(); single != 0 || batches != 1 || questions != 2+2+1 {
		t.Errorf("TrainingEvents asked %d single questions and %d batches of %d in all; want 0, 1 and 5", single, batches, questions)
	}
}

// TestTrainingEventsHoldsBoundedBatches checks TrainingEvents across
// several batches of questions, with a user whose events span two: every
// allowed event comes out once, in the store's order.
func TestTrainingEventsHoldsBoundedBatches(t *testing.T) {
	var g *countingGate
	e := newEnvGate(t, func(inner engine.Gate) engine.Gate {
		g = &countingGate{Gate: inner}
		return g
	})
	e.items(t, catalog...)
	users := []struct {
		id     engine.UserID
		grants []engine.ConsentRecord
		views  int
	}{
		{"a", []engine.ConsentRecord{grant(engine.PurposePersonalization, "", "")}, 700},
		{"b", nil, 500},
		{"c", []engine.ConsentRecord{grant(engine.PurposePersonalization, engine.SignalBrowsing, "")}, 900},
		{"d", []engine.ConsentRecord{grant(engine.PurposePersonalization, engine.SignalPurchases, "")}, 10},
	}
	want := map[engine.UserID]int{}
	for _, u := range users {
		e.user(t, u.id, u.grants...)
		for start := 0; start < u.views; start += engine.MaxEventsPerBatch {
			var evs []engine.Event
			for i := start; i < min(u.views, start+engine.MaxEventsPerBatch); i++ {
				evs = append(evs, view(u.id, "sku-1", "app", now.Add(-time.Duration(i+1)*time.Second)))
			}
			if _, err := e.svc.RecordEvents(e.ctx, evs); err != nil {
				t.Fatal(err)
			}
		}
	}
	want["a"], want["c"] = 700, 900
	g.counts()
	got := map[engine.UserID]int{}
	var last engine.UserID
	for ev, err := range e.svc.TrainingEvents(e.ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.User < last {
			t.Fatalf("event of %s after %s's", ev.User, last)
		}
		last = ev.User
		got[ev.User]++
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("training events per user (-want +got):\n%s", diff)
	}
	// b's and d's views were dropped. One question per user (browsing),
	// asked when the first 1,024 events are held: c's events go out in two
	// rounds, but c is asked once.
	if single, batches, questions := g.counts(); single != 0 || batches != 1 || questions != 2 {
		t.Errorf("TrainingEvents asked %d single questions and %d batches of %d in all; want 0, 1 and 2", single, batches, questions)
	}
}
