package eval

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"heed/engine"
)

// A Query asks a system under test for a ranking. It carries what the
// system may know of the case, never its targets.
type Query struct {
	User   engine.UserID
	Region string
	// History is the customer's training purchases, oldest first; in P3 it
	// is set too, but the complementary systems ignore it.
	History []engine.Event
	// Item is P3's query item; empty in P2.
	Item engine.ItemID
	// Now is the split's cutoff.
	Now time.Time
	// Exclude reports the items not to rank: in P2 what the customer bought
	// in training, in P3 the query item. Evaluate drops any that slip
	// through, so a system may return more than n and leave it to Evaluate.
	Exclude func(engine.ItemID) bool
}

// A Ranker is a system under test: it returns up to n items for q, best
// first. It must be safe for concurrent use.
type Ranker interface {
	Rank(q Query, n int) []engine.ItemID
}

// RankFunc adapts a function to Ranker.
type RankFunc func(q Query, n int) []engine.ItemID

// Rank calls f.
func (f RankFunc) Rank(q Query, n int) []engine.ItemID { return f(q, n) }

// Depth is how many items Evaluate asks for: Recall@20 needs 20.
const Depth = 20

// Evaluate scores r on cases of split s, in parallel over GOMAXPROCS
// goroutines that it waits for. It returns ctx.Err() if ctx ends first.
func Evaluate(ctx context.Context, s *Split, cases []Case, r Ranker) (Metrics, error) {
	type sums struct{ hr, ndcg, recall float64 }
	workers := min(runtime.GOMAXPROCS(0), max(1, len(cases)/16))
	var (
		mu      sync.Mutex
		total   sums
		shown   = make(map[engine.ItemID]bool) // guarded by mu
		wg      sync.WaitGroup
		next    = make(chan int)
		results = make([]sums, workers)
	)
	catalog := make(map[engine.ItemID]bool, len(s.Items))
	for _, it := range s.Items {
		catalog[it.ID] = true
	}
	for w := range workers {
		wg.Go(func() {
			local := make(map[engine.ItemID]bool)
			for k := range next {
				c := &cases[k]
				ranked := r.Rank(Query{User: c.User, Region: c.Region, History: c.History, Item: c.Item, Now: s.Cutoff, Exclude: c.Excluded}, Depth)
				ranked = clean(ranked, c, catalog)
				hr, ndcg, recall := caseMetrics(ranked, c.Targets)
				results[w].hr += hr
				results[w].ndcg += ndcg
				results[w].recall += recall
				for _, id := range ranked[:min(10, len(ranked))] {
					local[id] = true
				}
			}
			mu.Lock()
			for id := range local {
				shown[id] = true
			}
			mu.Unlock()
		})
	}
	var err error
feed:
	for k := range cases {
		select {
		case next <- k:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return Metrics{}, err
	}
	for _, r := range results {
		total.hr += r.hr
		total.ndcg += r.ndcg
		total.recall += r.recall
	}
	m := Metrics{Cases: len(cases)}
	if n := float64(len(cases)); n > 0 {
		m.HR10, m.NDCG10, m.Recall20 = total.hr/n, total.ndcg/n, total.recall/n
	}
	if len(s.Items) > 0 {
		m.Coverage = float64(len(shown)) / float64(len(s.Items))
	}
	return m, nil
}

// clean drops excluded, unknown and repeated items and cuts to Depth.
func clean(ranked []engine.ItemID, c *Case, catalog map[engine.ItemID]bool) []engine.ItemID {
	out := make([]engine.ItemID, 0, Depth)
	for _, id := range ranked {
		if len(out) == Depth {
			break
		}
		if c.Excluded(id) || !catalog[id] || contains(out, id) {
			continue
		}
		out = append(out, id)
	}
	return out
}

// progressf writes one progress line to w, if w is not nil.
func progressf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
