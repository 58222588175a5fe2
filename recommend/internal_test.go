package recommend

import (
	"context"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

// Requests leave nothing behind in the pooled scratch space, whether every
// item is scored or only candidates.
func TestScratchIsReset(t *testing.T) {
	g := newGenerator(genShape{Users: 300, Items: 2000, Interactions: 15000, Regions: 3, Seed: 3})
	now := g.start.Add(g.span)
	m := trainSmall(t, g, nil)
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
	m := trainSmall(t, g, func(o *Options) { o.Factors, o.Iterations, o.Workers = 4, 1, 1 })
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
	req = asServed(req)
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
	m := trainSmall(t, g, nil)
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
// items sharing its tags when the neighbours listed are fewer than the
// limit (tier 1) and every popular item (tier 2), all sorted by finish.
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
	notItself := func(id engine.ItemID) bool { return id == req.Item }
	if len(finish(c, req, slices.Clone(es), notItself)) < req.Limit && req.Item != "" {
		es = append(es, contentNeighbours(c, req.Item, h, 1)...)
	}
	if m != nil {
		es = append(es, m.popularEntries(2)...)
	}
	return finish(c, req, es, notItself)
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
	wide := trainSmall(t, g, nil)
	// Fewer neighbours than most limits: items sharing tags fill in.
	narrow := trainSmall(t, g, func(o *Options) { o.Neighbors = 6 })
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

// launchedBetween returns the items launching in [from, to], newest first:
// the walk of newArrivals before it kept only the best.
func (c *Catalog) launchedBetween(from, to time.Time) iter.Seq[engine.Item] {
	launch, _ := c.launchedIn(from, to)
	return func(yield func(engine.Item) bool) {
		for j := len(launch) - 1; j >= 0; j-- {
			if !yield(launch[j]) {
				return
			}
		}
	}
}

// newArrivalsByFinish is new_arrivals as it was served before newArrivals
// kept only the best: an entry, with its reasons, for every item of the
// launch window, all sorted by finish; without what the history shows
// bought unless keepBought.
func newArrivalsByFinish(m *Model, c *Catalog, req engine.RecRequest, keepBought bool) []engine.Recommended {
	req = asServed(req)
	h := readHistory(m, c, req)
	defer m.releaseHistory(h)
	b := m.blend()
	var es []entry
	for it := range c.launchedBetween(h.now.Add(-b.NewFor), h.now.Add(b.UpcomingFor)) {
		state, fresh := launchState(it, h.now, b)
		if state == "" {
			continue
		}
		e := entry{id: it.ID, score: 0.5 * fresh, reasons: []string{state}, upcoming: state == "upcoming"}
		if s, why := h.match(&it); s > 0 && why != "" {
			e.score += s
			e.reasons = append(e.reasons, why)
		}
		if i, ok := m.itemIndex(it.ID); ok {
			e.score += 0.2 * m.pop[i]
		}
		es = append(es, e)
	}
	exclude := h.bought
	if keepBought {
		exclude = nil
	}
	return finish(c, req, es, exclude)
}

// newArrivals keeps the best of the launch window and lists what sorting
// every item of it would: with a model, another launch window or none;
// items new, upcoming, neither, and exactly at now and at the window's
// ends; upcoming items out of stock (listed) and new ones (not); items
// unknown to the model, tied on score (ordered by id); delivery regions;
// histories with views, searches and purchases (of items in the window:
// left out), interests and blocked tags; any limit, personalized or not.
func TestNewArrivalsAsBefore(t *testing.T) {
	g := newGenerator(genShape{Users: 300, Items: 2000, Interactions: 15000, Regions: 3, Seed: 3})
	now := g.start.Add(g.span)
	m := trainSmall(t, g, nil)
	short := m.withExact(m.opts.ExactScoringMax) // a narrower launch window
	short.opts.Blend.NewFor, short.opts.Blend.UpcomingFor = 7*24*time.Hour, 3*24*time.Hour
	models := []*Model{m, short, nil}
	blends := map[*Model]Blend{m: m.blend(), short: short.blend(), nil: (*Model)(nil).blend()}

	// Launch dates around now: at the ends of both windows, just outside
	// them, at now and a nanosecond either side, anywhere near, or none.
	day := 24 * time.Hour
	offsets := []time.Duration{0, 1, -1, -60 * day, -60*day - 1, 90 * day, 90*day + 1,
		-7 * day, -7*day - 1, 3 * day, 3*day + 1, -400 * day, 400 * day}
	r := rand.New(rand.NewPCG(21, 22))
	items := g.items(now)
	var window []engine.ItemID // items new or upcoming in the default window
	for j := range items {
		it := &items[j]
		switch x := r.IntN(10); {
		case x < 2:
			it.LaunchAt = now.Add(offsets[r.IntN(len(offsets))])
		case x < 5:
			it.LaunchAt = now.Add(time.Duration(r.Float64()*float64(170*day)) - 70*day)
		default:
			it.LaunchAt = time.Time{}
		}
		if !it.LaunchAt.IsZero() && r.IntN(4) == 0 {
			it.InStock = false
		}
		if s, _ := launchState(*it, now, blends[m]); s != "" {
			window = append(window, it.ID)
		}
	}
	// Items unknown to the model, in groups launching together with the same
	// content: tied on score.
	var extra []engine.Item
	for j := range 60 {
		it := items[j/6*31]
		it.ID = engine.ItemID(fmt.Sprintf("new-%02d", 59-j)) // ids against the launch order
		it.LaunchAt = now.Add(time.Duration(j/6-5) * day)
		it.InStock = j%6 != 0
		extra = append(extra, it)
	}
	full := NewCatalog()
	full.Put(items...)
	full.Put(extra...)
	partial := NewCatalog() // without every 7th item, and half the extra ones
	for j, it := range items {
		if j%7 != 3 {
			partial.Put(it)
		}
	}
	partial.Put(extra[:30]...)
	empty := NewCatalog()
	catalogs := []*Catalog{full, full, partial, empty}
	launchOf := map[engine.ItemID]engine.Item{}
	for _, it := range append(slices.Clone(items), extra...) {
		launchOf[it.ID] = it
	}

	limits := []int{0, 1, 2, 3, 5, 10, 20, 50, 100, 199, 200, 500}
	regions := []string{"", genRegion(0), genRegion(1), "nowhere"}
	var n, matched, searched, upcomingOut, newIn, upcomingIn, atEnds, ties, excluded, single, shortLists, nilModel int
	for n < 4000 {
		mi := r.IntN(len(models))
		md, c := models[mi], catalogs[r.IntN(len(catalogs))]
		b := blends[md]
		limit := limits[r.IntN(len(limits))]
		if r.IntN(2) == 0 {
			limit = 1 + r.IntN(maxLimit)
		}
		req := engine.RecRequest{
			Strategy:     engine.StrategyNewArrivals,
			Personalized: r.IntN(4) != 0,
			History:      g.user(r.IntN(300)),
			Now:          now,
			Limit:        limit,
			AvailableIn:  regions[r.IntN(len(regions))],
		}
		req.Region = req.History[0].Region
		at := req.History[len(req.History)-1].OccurredAt
		if r.IntN(2) == 0 { // bought items of the window, viewed others
			e := engine.Event{Type: engine.EventPurchase, User: req.History[0].User, OccurredAt: at.Add(time.Hour)}
			for range 1 + r.IntN(4) {
				e.Items = append(e.Items, engine.LineItem{Item: window[r.IntN(len(window))], Quantity: 1})
			}
			e.Items = append(e.Items, engine.LineItem{Item: extra[r.IntN(len(extra))].ID, Quantity: 1})
			req.History = append(slices.Clip(req.History), e,
				engine.Event{Type: engine.EventView, User: e.User, Item: window[r.IntN(len(window))], OccurredAt: at.Add(2 * time.Hour)})
		}
		if r.IntN(3) == 0 { // searched again, or for the first time (in upper case)
			// Only one word of a history may match a title: match adds up the
			// words matching in map order, which may change the last bit.
			q := fmt.Sprintf("KIND%d gift", r.IntN(g.cats))
			if k := slices.IndexFunc(req.History, func(e engine.Event) bool { return e.Type == engine.EventSearch }); k >= 0 {
				q = req.History[k].Query
			}
			req.History = append(slices.Clip(req.History), engine.Event{Type: engine.EventSearch, User: req.History[0].User,
				Query: q, OccurredAt: at.Add(3 * time.Hour)})
		}
		for range r.IntN(4) {
			tag := fmt.Sprintf("category:cat-%d", r.IntN(g.cats))
			if r.IntN(2) == 0 {
				tag = fmt.Sprintf("tag:t%d", r.IntN(53))
			}
			req.Interests = append(req.Interests, engine.InterestTag{Tag: tag, Weight: r.Float64()})
		}
		if r.IntN(4) == 0 {
			req.Blocked = append(req.Blocked, fmt.Sprintf("category:cat-%d", r.IntN(g.cats)), "tag:t1")
			for _, it := range req.Interests {
				if r.IntN(2) == 0 {
					req.Blocked = append(req.Blocked, it.Tag)
				}
			}
		}

		want := newArrivalsByFinish(md, c, req, false)
		got := md.Recommend(c, req)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("request %d: model %d, limit %d, personalized %v, in %q, interests %v, blocked %q (-finish +newArrivals):\n%s",
				n, mi, req.Limit, req.Personalized, req.AvailableIn, req.Interests, req.Blocked, diff)
		}
		n++
		if md == nil {
			nilModel++
		}
		if !slices.EqualFunc(want, newArrivalsByFinish(md, c, req, true), func(a, b engine.Recommended) bool { return a.Item == b.Item }) {
			excluded++ // a bought item would have been listed
		}
		if limit := min(max(limit, 1), maxLimit); len(got) < limit {
			shortLists++
		} else if limit == 1 {
			single++
		}
		for j, x := range got {
			it := launchOf[x.Item]
			switch x.Reasons[0] {
			case "upcoming":
				upcomingIn++
				if !it.InStock {
					upcomingOut++
				}
			case "new_arrival":
				newIn++
			}
			if len(x.Reasons) == 2 {
				matched++
				if strings.HasPrefix(x.Reasons[1], "matches_search:") {
					searched++
				}
			}
			if d := it.LaunchAt.Sub(now); d == 0 || d == -b.NewFor || d == b.UpcomingFor {
				atEnds++
			}
			if j > 0 && x.Score == got[j-1].Score {
				ties++
			}
		}
	}
	t.Logf("%d requests (%d without a model): %d new and %d upcoming listed (%d out of stock), %d matching (%d a search), %d at now or a window's end, "+
		"%d tied with the one before; %d lists without a bought item, %d short, %d of one item",
		n, nilModel, newIn, upcomingIn, upcomingOut, matched, searched, atEnds, ties, excluded, shortLists, single)
	for name, v := range map[string]int{"no model": nilModel, "new": newIn, "upcoming": upcomingIn, "upcoming out of stock": upcomingOut,
		"matching": matched, "matching a search": searched, "at now or a window's end": atEnds, "ties": ties, "bought left out": excluded, "short": shortLists, "one item": single} {
		if v == 0 {
			t.Errorf("never reached: %s", name)
		}
	}
}

// trainSmall trains, on g's events, the small model the tests here use:
// 8 factors, 2 iterations, 2 workers, then whatever tune changes.
func trainSmall(t *testing.T, g *generator, tune func(*Options)) *Model {
	t.Helper()
	o := DefaultOptions()
	o.Factors, o.Iterations, o.Workers = 8, 2, 2
	if tune != nil {
		tune(&o)
	}
	m, err := Train(context.Background(), g.events(), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// asServed returns req as Model.Recommend sees it: the limit in range, and
// nothing personal unless personalized.
func asServed(req engine.RecRequest) engine.RecRequest {
	if req.Limit <= 0 {
		req.Limit = defaultLimit
	}
	req.Limit = min(req.Limit, maxLimit)
	if !req.Personalized {
		req.History, req.Region, req.Interests = nil, "", nil
	}
	return req
}
