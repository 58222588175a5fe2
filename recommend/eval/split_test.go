package eval_test

import (
	"sync"
	"testing"

	"heed/data/onlineretail"
	"heed/engine"
	"heed/recommend/eval"
)

var retail = sync.OnceValues(func() ([]engine.Event, []engine.Item) {
	d, err := onlineretail.Load()
	if err != nil {
		panic(err)
	}
	return d.Events(), d.Items()
})

func TestCaseCounts(t *testing.T) {
	evs, items := retail()
	s := eval.TestSplit(evs, items)
	p2, p3 := eval.P2Cases(s), eval.P3Cases(s)
	targets := 0
	for _, c := range p2 {
		targets += len(c.Targets)
	}
	t.Logf("P2 %d cases, %.1f targets each; P3 %d cases; test invoices %d", len(p2), float64(targets)/float64(len(p2)), len(p3), len(s.Test))
	if len(p2) != 1294 {
		t.Errorf("P2 has %d cases, want 1294", len(p2))
	}
	if len(p3) != 2545 {
		t.Errorf("P3 has %d cases, want 2545", len(p3))
	}
}

// TestValidationSplitHoldsNoTestPeriod checks that tuning cannot see the
// test period: no event and no item launch at or after TestCutoff.
func TestValidationSplitHoldsNoTestPeriod(t *testing.T) {
	evs, items := retail()
	s := eval.ValidationSplit(evs, items)
	for _, e := range append(append([]engine.Event(nil), s.Train...), s.Test...) {
		if !e.OccurredAt.Before(eval.TestCutoff) {
			t.Fatalf("validation split holds %s of %s", e.Order, e.OccurredAt)
		}
	}
	for _, it := range s.Items {
		if !it.LaunchAt.Before(eval.TestCutoff) {
			t.Fatalf("validation catalog holds %s, launched %s", it.ID, it.LaunchAt)
		}
	}
	if len(s.Items) >= len(items) {
		t.Errorf("validation catalog has %d of %d items; want the test period's new items left out", len(s.Items), len(items))
	}
	p2, p3 := eval.P2Cases(s), eval.P3Cases(s)
	t.Logf("validation: %d train, %d test purchases; P2 %d cases, P3 %d cases", len(s.Train), len(s.Test), len(p2), len(p3))
	if len(p2) < 500 || len(p3) < 1000 {
		t.Errorf("validation has P2 %d, P3 %d cases; want a month's worth", len(p2), len(p3))
	}
}
