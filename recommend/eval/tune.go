package eval

import (
	"context"
	"io"
	"time"

	"heed/engine"
	"heed/recommend"
)

// A Grid lists, per tuned field, the values to try. Tune searches it one
// field at a time, in order, keeping the best value of each field before
// trying the next (coordinate descent), so it costs one trial per value,
// not one per combination.
type Grid []Axis

// An Axis is one field of recommend.Options and its candidate values.
type Axis struct {
	Name   string
	Values []float64
	Set    func(o *recommend.Options, v float64)
}

// DefaultGrid tries Factors ∈ {32, 64}, Lambda ∈ {0.1, 1, 10}, Alpha ∈ {3,
// 10, 30}, HalfLife ∈ {none, 30, 60, 120, 240 days} and Iterations ∈ {8,
// 12, 20}.
func DefaultGrid() Grid {
	return Grid{
		{Name: "factors", Values: []float64{32, 64}, Set: func(o *recommend.Options, v float64) { o.Factors = int(v) }},
		{Name: "lambda", Values: []float64{0.1, 1, 10}, Set: func(o *recommend.Options, v float64) { o.Lambda = v }},
		{Name: "alpha", Values: []float64{3, 10, 30}, Set: func(o *recommend.Options, v float64) { o.Alpha = v }},
		{Name: "half-life days", Values: []float64{0, 30, 60, 120, 240}, Set: func(o *recommend.Options, v float64) {
			o.HalfLife = time.Duration(v * float64(24*time.Hour))
		}},
		{Name: "iterations", Values: []float64{8, 12, 20}, Set: func(o *recommend.Options, v float64) { o.Iterations = int(v) }},
	}
}

// A Trial is one tuning run, scored on the validation split.
type Trial struct {
	Options recommend.Options
	// ForYou is for_you on P2; Complementary is complementary on P3.
	ForYou, Complementary Metrics
	Took                  time.Duration // training time
}

// Tune picks heed's options by the NDCG@10 of for_you on P2 over the
// validation split: train before ValidationCutoff, score the month up to
// TestCutoff. It never reads the test period. It starts from base and
// searches grid one field at a time (see Grid), keeping a change only if it
// gains more than 1e-4 NDCG@10; it returns the best options
// and every trial, and ctx.Err() if ctx ends first.
func Tune(ctx context.Context, events []engine.Event, items []engine.Item, base recommend.Options, grid Grid, progress io.Writer) (recommend.Options, []Trial, error) {
	s := ValidationSplit(events, items)
	p2, p3 := P2Cases(s), P3Cases(s)
	progressf(progress, "tuning on the validation split: %d training purchases, P2 %d cases, P3 %d cases", len(s.Train), len(p2), len(p3))
	var trials []Trial
	tried := make(map[string]int) // option description → trial index
	run := func(o recommend.Options) (Trial, error) {
		key := describe(o)
		if k, ok := tried[key]; ok {
			return trials[k], nil
		}
		h, err := TrainHeed(ctx, s, o, nil)
		if err != nil {
			return Trial{}, err
		}
		t := Trial{Options: o, Took: h.Took}
		if t.ForYou, err = Evaluate(ctx, s, p2, h.Strategy(engine.StrategyForYou)); err != nil {
			return Trial{}, err
		}
		if t.Complementary, err = Evaluate(ctx, s, p3, h.Strategy(engine.StrategyComplementary)); err != nil {
			return Trial{}, err
		}
		tried[key] = len(trials)
		trials = append(trials, t)
		progressf(progress, "  trial %d: %s: for_you NDCG@10 %.4f, complementary %.4f (trained in %s)",
			len(trials), key, t.ForYou.NDCG10, t.Complementary.NDCG10, t.Took.Round(time.Millisecond))
		return t, nil
	}
	best, err := run(base)
	if err != nil {
		return base, nil, err
	}
	for _, ax := range grid {
		for _, v := range ax.Values {
			o := best.Options
			ax.Set(&o, v)
			t, err := run(o)
			if err != nil {
				return base, trials, err
			}
			// A change must gain more than noise (1e-4) to replace the best.
			if t.ForYou.NDCG10 > best.ForYou.NDCG10+1e-4 {
				best = t
			}
		}
		progressf(progress, "  best %s so far: %s", ax.Name, describe(best.Options))
	}
	return best.Options, trials, nil
}
