package recommend

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
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

// popularEntries lists the globally popular items in tier: the padding of
// the lists before they walked the popular list.
func (m *Model) popularEntries(tier int) []entry {
	es := make([]entry, len(m.popular))
	for j, i := range m.popular {
		es[j] = entry{id: m.ids[i], tier: tier, score: m.pop[i], reason: "popular"}
	}
	return es
}

// contentNeighbours lists, in tier, the catalog items sharing interest tags
// with item (tags the shopper blocked do not count), as contextList read
// them before it scanned for the best only.
func contentNeighbours(c *Catalog, item engine.ItemID, h *history, tier int) []entry {
	ctx, ok := c.Get(item)
	if !ok {
		return nil
	}
	want := map[string]bool{}
	for _, t := range ctx.InterestTags() {
		if !h.blocked[t] {
			want[t] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	why := "similar_to:" + string(item)
	var es []entry
	c.mu.RLock()
	defer c.mu.RUnlock()
	for k := range c.rows {
		r := &c.rows[k]
		n := 0
		for _, t := range r.interests {
			if want[t] {
				n++
			}
		}
		if n > 0 && r.ID != item {
			es = append(es, entry{id: r.ID, tier: tier, score: float64(n) / float64(len(want)), reason: why})
		}
	}
	return es
}

// contextByFinish is similar and complementary as they were served before
// contextList walked its tiers: the context item's neighbours (tier 0),
// items sharing its tags when the neighbours are fewer than the limit
// (tier 1) and every popular item (tier 2), all sorted by finish.
func contextByFinish(m *Model, c *Catalog, req engine.RecRequest) []engine.Recommended {
	if req.Limit <= 0 {
		req.Limit = defaultLimit
	}
	req.Limit = min(req.Limit, maxLimit)
	if !req.Personalized {
		req.History, req.Region, req.Interests = nil, "", nil
	}
	h := newHistory(req)
	if m == nil {
		h = readHistory(m, c, req)
	}
	prefix := "similar_to:"
	if req.Strategy == engine.StrategyComplementary {
		prefix = "bought_with:"
	}
	var es []entry
	if i, ok := m.itemIndex(req.Item); ok {
		nb := &m.similar
		if req.Strategy == engine.StrategyComplementary {
			nb = &m.complement
		}
		its, scs := nb.of(i)
		why := prefix + string(req.Item)
		for t, j := range its {
			es = append(es, entry{id: m.ids[j], score: float64(scs[t]), reason: why})
		}
	}
	if len(es) < req.Limit && req.Item != "" {
		es = append(es, contentNeighbours(c, req.Item, h, 1)...)
	}
	if m != nil {
		es = append(es, m.popularEntries(2)...)
	}
	return finish(c, req, es, func(id engine.ItemID) bool { return id == req.Item })
}

// withNeighbors returns a copy of m whose neighbour lists are f of m's.
func (m *Model) withNeighbors(f func(i int32, l []cand) []cand) *Model {
	c := m.withExact(m.opts.ExactScoringMax)
	for _, nb := range []*neighbors{&c.similar, &c.complement} {
		l := make([][]cand, len(m.ids))
		for i := range l {
			its, scs := nb.of(int32(i))
			for t, j := range its {
				l[i] = append(l[i], cand{j, float64(scs[t])})
			}
			l[i] = f(int32(i), l[i])
		}
		*nb = toNeighbors(l)
	}
	return c
}

// contextList walks its three tiers and lists what sorting every entry
// would: for both strategies, items with many, few or no neighbours, known
// or not to the model or the catalog, any limit, delivery region, blocked
// tags, out-of-stock items, popular items and neighbours missing from the
// catalog, neighbours whose float32 scores tie (ordered by id, not index),
// neighbour lists holding the item itself or an item twice, and no model.
func TestContextListAsFinish(t *testing.T) {
	g := newGenerator(genShape{Users: 300, Items: 2000, Interactions: 15000, Regions: 3, Seed: 3})
	now := g.start.Add(g.span)
	o := DefaultOptions()
	o.Factors, o.Iterations, o.Workers = 8, 2, 2
	wide, err := Train(context.Background(), g.events(), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Neighbors = 6 // fewer neighbours than most limits: items sharing tags fill in
	narrow, err := Train(context.Background(), g.events(), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	// Scores in quarters (ties, kept in index order), and every third list
	// with the item itself first and its best neighbour again last.
	ties := wide.withNeighbors(func(i int32, l []cand) []cand {
		for j := range l {
			l[j].s = math.Round(l[j].s*4) / 4
		}
		if i%3 == 0 && len(l) > 0 {
			l = append([]cand{{i, 1}}, l...)
			l = append(l, cand{l[1].i, 0})
		}
		return l
	})
	models := []*Model{wide, narrow, ties, nil}

	items := g.items(now)
	var extra []engine.Item // not in any model, sharing tags with those that are
	for j := range 40 {
		it := items[j*37%len(items)]
		it.ID = engine.ItemID(fmt.Sprintf("extra-%02d", j))
		it.InStock = j%7 != 0
		if j%5 == 0 {
			it.Tags = append(it.Tags, it.Tags[0]) // a tag twice
		}
		if j%9 == 0 {
			it.Category, it.Tags = "", nil // no tags at all
		}
		extra = append(extra, it)
	}
	full := NewCatalog()
	full.Put(items...)
	full.Put(extra...)
	partial := NewCatalog() // without a few popular items and every 10th item
	for j, it := range items {
		if i, ok := wide.itemIndex(it.ID); ok && slices.Index(wide.popular, i) < 30 && slices.Index(wide.popular, i)%3 == 1 || j%10 == 3 {
			continue
		}
		partial.Put(it)
	}
	partial.Put(extra[:20]...)
	catalogs := []*Catalog{full, partial}

	// Context items: popular, rare and unknown to the model, not in the
	// catalog, none.
	var ctxItems []engine.ItemID
	for j, i := range wide.popular {
		if j < 20 || j%25 == 0 {
			ctxItems = append(ctxItems, wide.ids[i])
		}
	}
	for j := len(wide.ids) - 1; j >= 0 && j > len(wide.ids)-40; j -= 3 {
		ctxItems = append(ctxItems, wide.ids[j])
	}
	for j := 0; j < len(extra); j += 4 {
		ctxItems = append(ctxItems, extra[j].ID)
	}
	for j := 0; j < len(items); j += 97 {
		ctxItems = append(ctxItems, items[j].ID)
	}
	ctxItems = append(ctxItems, "nowhere", "")
	limits := []int{0, 1, 2, 3, 5, 6, 7, 10, 20, 50, 100, 199, 200, 500}
	regions := []string{"", genRegion(0), genRegion(1), "nowhere"}

	r := rand.New(rand.NewPCG(11, 12))
	var n, content, popular, short, withTies int
	for n < 4000 {
		m := models[r.IntN(len(models))]
		c := catalogs[r.IntN(len(catalogs))]
		req := engine.RecRequest{
			Strategy:     engine.StrategySimilar,
			Item:         ctxItems[r.IntN(len(ctxItems))],
			Personalized: r.IntN(2) == 0,
			Now:          now,
			Limit:        limits[r.IntN(len(limits))],
			AvailableIn:  regions[r.IntN(len(regions))],
		}
		if r.IntN(2) == 0 {
			req.Strategy = engine.StrategyComplementary
		}
		if r.IntN(4) == 0 {
			if it, ok := c.Get(req.Item); ok {
				tags := it.InterestTags()
				req.Blocked = tags[:r.IntN(len(tags)+1)]
			}
			if r.IntN(3) == 0 {
				req.Blocked = append(req.Blocked, "category:cat-1")
			}
		}
		if req.Personalized {
			req.History, req.Region = g.user(n%300), genRegion(0)
		}
		want := contextByFinish(m, c, req)
		got := m.Recommend(c, req)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("model %d, %s of %q, limit %d, in %q, blocked %q (-finish +contextList):\n%s",
				slices.Index(models, m), req.Strategy, req.Item, req.Limit, req.AvailableIn, req.Blocked, diff)
		}
		n++
		limit := min(max(req.Limit, 1), maxLimit)
		if req.Limit <= 0 {
			limit = defaultLimit
		}
		if len(got) < limit {
			short++
		}
		for j, x := range got {
			switch {
			case x.Reasons[0] == "popular":
				popular++
			case x.Reasons[0] == "similar_to:"+string(req.Item) && req.Strategy == engine.StrategyComplementary:
				content++
			}
			if j > 0 && x.Score == got[j-1].Score && x.Reasons[0] == got[j-1].Reasons[0] && m == ties {
				withTies++
			}
		}
	}
	t.Logf("%d requests: %d listed as popular, %d sharing tags (complementary), %d neighbours tied with the one before, %d lists short",
		n, popular, content, withTies, short)
	if popular == 0 || content == 0 || withTies == 0 || short == 0 {
		t.Error("a tier or case was never reached")
	}
}
