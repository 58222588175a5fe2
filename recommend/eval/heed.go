package eval

import (
	"context"
	"fmt"
	"io"
	"iter"
	"sync"
	"time"

	"heed/engine"
	"heed/recommend"
)

// Heed is heed's recommender trained on a split: its strategies as Rankers.
type Heed struct {
	Model   *recommend.Model
	Catalog *recommend.Catalog
	// Took is the training time; PerIteration is the mean time of one ALS
	// iteration (as reported by Options.Progress), zero if none reported.
	Took, PerIteration time.Duration
}

// TrainHeed trains heed's model on s.Train with opts, writing a progress
// line per ALS iteration to progress (if not nil). Any opts.Progress hook is
// still called.
func TrainHeed(ctx context.Context, s *Split, opts recommend.Options, progress io.Writer) (*Heed, error) {
	var (
		mu    sync.Mutex
		iters int           // guarded by mu
		spent time.Duration // guarded by mu
	)
	hook := opts.Progress
	opts.Progress = func(it, of int, took time.Duration) {
		mu.Lock()
		iters++
		spent += took
		mu.Unlock()
		progressf(progress, "  %s: ALS iteration %d/%d (%s)", s.Name, it, of, took.Round(time.Millisecond))
		if hook != nil {
			hook(it, of, took)
		}
	}
	start := time.Now()
	m, err := recommend.Train(ctx, events(s.Train), s.Items, opts)
	if err != nil {
		return nil, fmt.Errorf("train heed on %s split: %w", s.Name, err)
	}
	h := &Heed{Model: m, Catalog: recommend.NewCatalog(), Took: time.Since(start)}
	h.Catalog.Put(s.Items...)
	mu.Lock()
	if iters > 0 {
		h.PerIteration = spent / time.Duration(iters)
	}
	mu.Unlock()
	return h, nil
}

// Strategy returns a Ranker that asks heed for one strategy. Personalized
// strategies (for_you, region, new_arrivals, buy_again) get the customer's
// history and region; similar and complementary get the query item, not
// personalized. The limit covers the items Evaluate will drop.
func (h *Heed) Strategy(s engine.Strategy) Ranker {
	return RankFunc(func(q Query, n int) []engine.ItemID {
		req := engine.RecRequest{Strategy: s, Now: q.Now, Limit: n + 1}
		switch s {
		case engine.StrategySimilar, engine.StrategyComplementary:
			req.Item = q.Item
		default:
			req.Personalized = true
			req.History = q.History
			req.Region = q.Region
			req.Item = q.Item
			req.Limit = n + distinctItems(q.History)
		}
		recs := h.Model.Recommend(h.Catalog, req)
		out := make([]engine.ItemID, 0, len(recs))
		for _, r := range recs {
			if q.Exclude == nil || !q.Exclude(r.Item) {
				out = append(out, r.Item)
			}
		}
		return out
	})
}

// events yields evs without error.
func events(evs []engine.Event) iter.Seq2[engine.Event, error] {
	return func(yield func(engine.Event, error) bool) {
		for _, e := range evs {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func distinctItems(history []engine.Event) int {
	seen := make(map[engine.ItemID]bool)
	for _, e := range history {
		for _, id := range e.ItemIDs() {
			seen[id] = true
		}
	}
	return len(seen)
}
