package recommend

import (
	"context"
	"slices"
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
	for _, mode := range []struct {
		exact, historyMax int
	}{{-1, wholeHistoryMax}, {10, wholeHistoryMax}, {10, 0}} {
		exact := mode.exact
		m := m.withExact(exact)
		m.historyMax = mode.historyMax // 0: candidates from the bounded history
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
			t.Errorf("exact max %d, history max %d: a repeated request differs (-first +again):\n%s", exact, mode.historyMax, diff)
		}
		if diff := cmp.Diff(fallback, m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Now: now, Limit: 30})); diff != "" {
			t.Errorf("exact max %d, history max %d: the fallback differs (-first +again):\n%s", exact, mode.historyMax, diff)
		}
		if len(first) != 30 {
			t.Errorf("exact max %d, history max %d: %d items, want 30", exact, mode.historyMax, len(first))
		}
	}
}

// A Model maps its items to catalog slots once, and again only when items
// are added to the catalog.
func TestViewFollowsPut(t *testing.T) {
	g := newGenerator(genShape{Users: 100, Items: 200, Interactions: 3000, Regions: 2, Seed: 5})
	now := g.start.Add(g.span)
	o := DefaultOptions()
	o.Factors, o.Iterations, o.Workers = 4, 1, 1
	m, err := Train(context.Background(), g.events(), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	items := g.items(now)
	c := NewCatalog()
	c.Put(items[1:]...)
	i, ok := m.itemIndex(items[0].ID)
	if !ok {
		t.Fatalf("%s unknown to the model", items[0].ID)
	}
	v := m.view(c)
	if v.slot[i] != -1 {
		t.Fatalf("slot of %s = %d before Put, want -1", items[0].ID, v.slot[i])
	}
	c.Put(items[2]) // replaced, not added: the view holds
	if m.view(c) != v {
		t.Error("view rebuilt after replacing an item")
	}
	c.Put(items[0])
	v = m.view(c)
	if k := v.slot[i]; k < 0 || c.rows[k].ID != items[0].ID {
		t.Fatalf("slot of %s = %d after Put", items[0].ID, k)
	}
	for j, k := range v.slot {
		if k >= 0 && c.rows[k].ID != m.ids[j] {
			t.Errorf("item %d (%s) mapped to slot %d (%s)", j, m.ids[j], k, c.rows[k].ID)
		}
	}
}

// regionByFinish is region as it was served before regionList walked its
// two lists: every regional and popular item sorted by finish, without
// what the whole history (readHistory) shows bought.
func regionByFinish(m *Model, c *Catalog, req engine.RecRequest) []engine.Recommended {
	if req.Limit <= 0 {
		req.Limit = defaultLimit
	}
	req.Limit = min(req.Limit, maxLimit)
	if !req.Personalized {
		req.History, req.Region, req.Interests = nil, "", nil
	}
	h := readHistory(m, c, req)
	defer m.releaseHistory(h)
	var es []entry
	if rk, ok := m.regions[req.Region]; ok && req.Region != "" {
		for j, i := range rk.Items {
			es = append(es, entry{id: m.ids[i], score: rk.Scores[j], reason: "popular_in_region:" + req.Region})
		}
	}
	es = append(es, m.popularEntries(1)...)
	return finish(c, req, es, h.bought)
}

// region walks its two ranked lists and reads only the purchases of the
// history, and lists what sorting every entry and reading the whole
// history would: for any limit, region (known, unknown or none), delivery
// region, out-of-stock items and items missing from the catalog.
func TestRegionListAsFinish(t *testing.T) {
	g := newGenerator(genShape{Users: 300, Items: 2000, Interactions: 15000, Regions: 3, Seed: 3})
	now := g.start.Add(g.span)
	o := DefaultOptions()
	o.Factors, o.Iterations, o.Workers = 8, 2, 2
	m, err := Train(context.Background(), g.events(), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	items := g.items(now)
	c := NewCatalog()
	c.Put(items[:len(items)-1]...)
	c.Put(items[len(items)-1])
	var missing []engine.Item // the most popular items but a few, not in the catalog
	for j, i := range m.popular[:20] {
		if j%4 == 1 {
			missing = append(missing, engine.Item{ID: m.ids[i]})
		}
	}
	partial := NewCatalog()
	for _, it := range items {
		if !slices.ContainsFunc(missing, func(x engine.Item) bool { return x.ID == it.ID }) {
			partial.Put(it)
		}
	}
	n := 0
	for u := range 40 {
		h := g.user(u)
		for _, cat := range []*Catalog{c, partial} {
			for _, limit := range []int{0, 1, 7, 30, 500} {
				for _, region := range []string{h[0].Region, genRegion(0), "nowhere", ""} {
					for _, personal := range []bool{true, false} {
						req := engine.RecRequest{Strategy: engine.StrategyRegion, Personalized: personal, History: h,
							Region: region, Now: now, Limit: limit}
						if u%3 == 0 {
							req.AvailableIn = genRegion(1)
						}
						want := regionByFinish(m, cat, req)
						if diff := cmp.Diff(want, m.Recommend(cat, req)); diff != "" {
							t.Fatalf("user %d, limit %d, region %q, personalized %v (-finish +region):\n%s", u, limit, region, personal, diff)
						}
						n++
					}
				}
			}
		}
	}
	t.Logf("%d requests", n)
}
