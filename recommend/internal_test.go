package recommend

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

// Requests leave nothing behind in the pooled scratch space, whether every
// item is scored or only candidates.
func TestScratchIsReset(t *testing.T) {
	g := newGenerator(genShape{Users: 300, Items: 2000, Interactions: 15000, Regions: 3, Seed: 3})
	now := g.start.Add(g.span)
	o := DefaultOptions()
	o.Factors, o.Iterations, o.Workers = 8, 2, 2
	m, err := Train(context.Background(), g.events(), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCatalog()
	c.Put(g.items(now)...)
	for _, exact := range []int{-1, 10} {
		m := m.withExact(exact)
		req := func(u int) engine.RecRequest {
			h := g.user(u)
			return engine.RecRequest{Strategy: engine.StrategyForYou, Personalized: true, History: h, Region: h[0].Region, Now: now, Limit: 30}
		}
		first := m.Recommend(c, req(0))
		fallback := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Now: now, Limit: 30})
		for u := 1; u < 50; u++ {
			m.Recommend(c, req(u))
		}
		if diff := cmp.Diff(first, m.Recommend(c, req(0))); diff != "" {
			t.Errorf("exact max %d: a repeated request differs (-first +again):\n%s", exact, diff)
		}
		if diff := cmp.Diff(fallback, m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Now: now, Limit: 30})); diff != "" {
			t.Errorf("exact max %d: the fallback differs (-first +again):\n%s", exact, diff)
		}
		if len(first) != 30 {
			t.Errorf("exact max %d: %d items, want 30", exact, len(first))
		}
	}
}
