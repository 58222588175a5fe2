package recommend

import (
	"cmp"
	"container/heap"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"heed/engine"
)

const (
	defaultLimit = 10
	maxLimit     = 200
	// candPopular is how many popular (and regional) items join the
	// candidates of for_you when it does not score every item.
	candPopular = 200
	candRegion  = 100
	// maxSpread is how many neighbours of each history item a request uses.
	maxSpread = 25
)

// Recommend returns up to req.Limit items (10 if zero, at most 200) for
// req.Strategy, best first, each with short reasons. Only in-stock catalog
// items sold in req.AvailableIn are returned (upcoming launches may be out
// of stock in new_arrivals); for_you leaves out what History shows bought.
//
// With req.Personalized false, History, Region and Interests are ignored:
// the list comes from global popularity and the context item only, so two
// shoppers asking the same get the same. m may be nil: then the catalog
// alone (content and launch dates) gives the lists.
func (m *Model) Recommend(c *Catalog, req engine.RecRequest) []engine.Recommended {
	if c == nil {
		c = NewCatalog()
	}
	if req.Limit <= 0 {
		req.Limit = defaultLimit
	}
	req.Limit = min(req.Limit, maxLimit)
	if !req.Personalized {
		req.History, req.Region, req.Interests = nil, "", nil
	}
	h := readHistory(m, c, req)
	switch req.Strategy {
	case engine.StrategySimilar, engine.StrategyComplementary:
		return m.contextList(c, req, h)
	case engine.StrategyRegion:
		return m.regionList(c, req, h)
	case engine.StrategyNewArrivals:
		return m.newArrivals(c, req, h)
	case engine.StrategyBuyAgain:
		if req.Personalized {
			return m.buyAgain(c, req, h)
		}
	}
	return m.forYou(c, req, h)
}

func (m *Model) blend() Blend {
	if m == nil {
		return DefaultOptions().Blend
	}
	return m.opts.Blend
}

// An entry is an item on its way to a list.
type entry struct {
	id       engine.ItemID
	tier     int // lower tiers come first (padding goes last)
	score    float64
	reasons  []string
	upcoming bool // not on sale yet: may be out of stock
}

func byTier(a, b entry) int {
	if c := cmp.Compare(a.tier, b.tier); c != 0 {
		return c
	}
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	return strings.Compare(string(a.id), string(b.id))
}

// finish orders entries, keeps the first of each item, applies the catalog
// filters and exclude, and cuts at req.Limit.
func finish(c *Catalog, req engine.RecRequest, es []entry, exclude func(engine.ItemID) bool) []engine.Recommended {
	slices.SortFunc(es, byTier)
	ids := make([]engine.ItemID, len(es))
	for i, e := range es {
		ids[i] = e.id
	}
	out := make([]engine.Recommended, 0, min(req.Limit, len(es)))
	seen := make(map[engine.ItemID]bool, req.Limit)
	c.lookup(ids, func(i int, it engine.Item, ok bool) bool {
		e := es[i]
		if !ok || seen[e.id] || (!it.InStock && !e.upcoming) || !availableIn(it, req.AvailableIn) || (exclude != nil && exclude(e.id)) {
			return true
		}
		seen[e.id] = true
		out = append(out, engine.Recommended{Item: e.id, Score: e.score, Reasons: e.reasons})
		return len(out) < req.Limit
	})
	return out
}

// popularEntries lists the globally popular items in tier.
func (m *Model) popularEntries(tier int) []entry {
	es := make([]entry, len(m.popular))
	for j, i := range m.popular {
		es[j] = entry{id: m.ids[i], tier: tier, score: m.pop[i], reasons: []string{"popular"}}
	}
	return es
}

// contextList serves similar and complementary: the context item's
// neighbours, then items sharing its tags, then popular items.
func (m *Model) contextList(c *Catalog, req engine.RecRequest, h *history) []engine.Recommended {
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
		for t, j := range its {
			es = append(es, entry{id: m.ids[j], score: float64(scs[t]), reasons: []string{prefix + string(req.Item)}})
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

func (m *Model) itemIndex(id engine.ItemID) (int32, bool) {
	if m == nil || id == "" {
		return 0, false
	}
	i, ok := m.index[id]
	return i, ok
}

// contentNeighbours lists, in tier, the catalog items sharing interest tags
// with item (tags the shopper blocked do not count).
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
	_, ids := c.indexes()
	var es []entry
	c.lookup(ids, func(_ int, it engine.Item, ok bool) bool {
		n := 0
		for _, t := range it.InterestTags() {
			if want[t] {
				n++
			}
		}
		if ok && n > 0 && it.ID != item {
			es = append(es, entry{id: it.ID, tier: tier, score: float64(n) / float64(len(want)), reasons: []string{"similar_to:" + string(item)}})
		}
		return true
	})
	return es
}

// regionList serves region: popular in the shopper's region, then popular.
func (m *Model) regionList(c *Catalog, req engine.RecRequest, h *history) []engine.Recommended {
	if m == nil {
		return catalogOnly(c, req, h)
	}
	var es []entry
	if rk, ok := m.regions[req.Region]; ok && req.Region != "" {
		for j, i := range rk.Items {
			es = append(es, entry{id: m.ids[i], score: rk.Scores[j], reasons: []string{"popular_in_region:" + req.Region}})
		}
	}
	es = append(es, m.popularEntries(1)...)
	return finish(c, req, es, nil)
}

// launchState tells whether it is a new arrival or an upcoming launch at now.
func launchState(it engine.Item, now time.Time, b Blend) (reason string, freshness float64) {
	if it.LaunchAt.IsZero() {
		return "", 0
	}
	switch d := it.LaunchAt.Sub(now); {
	case d > 0 && d <= b.UpcomingFor:
		return "upcoming", 1 - float64(d)/float64(b.UpcomingFor)
	case d <= 0 && -d <= b.NewFor:
		return "new_arrival", 1 + float64(d)/float64(b.NewFor)
	}
	return "", 0
}

// newArrivals serves new_arrivals: new and upcoming items, those matching
// the shopper's tags and searches first.
func (m *Model) newArrivals(c *Catalog, req engine.RecRequest, h *history) []engine.Recommended {
	b := m.blend()
	var es []entry
	for it := range c.launchedBetween(h.now.Add(-b.NewFor), h.now.Add(b.UpcomingFor)) {
		state, fresh := launchState(it, h.now, b)
		if state == "" {
			continue
		}
		e := entry{id: it.ID, score: 0.5 * fresh, reasons: []string{state}, upcoming: state == "upcoming"}
		if s, why := h.match(it); s > 0 && why != "" {
			e.score += s
			e.reasons = append(e.reasons, why)
		}
		if i, ok := m.itemIndex(it.ID); ok {
			e.score += 0.2 * m.pop[i]
		}
		es = append(es, e)
	}
	return finish(c, req, es, func(id engine.ItemID) bool { return h.bought[id] })
}

// buyAgain serves buy_again: what the shopper bought, weighted by how often
// buyers of the item buy it again, how often the shopper did, and recency.
func (m *Model) buyAgain(c *Catalog, req engine.RecRequest, h *history) []engine.Recommended {
	b := m.blend()
	var es []entry
	for id, n := range h.orders {
		rate := 0.0
		if i, ok := m.itemIndex(id); ok {
			rate = m.repeat[i]
		}
		s := (rate + 0.05) * (1 + math.Log(float64(n))) * decay(h.now.Sub(h.lastBuy[id]), 2*b.HalfLife)
		es = append(es, entry{id: id, score: s, reasons: []string{"buy_again"}})
	}
	return finish(c, req, es, nil)
}

// catalogOnly ranks the whole catalog by content: matches with the shopper's
// tags and searches, new arrivals and upcoming launches, then by id. It serves
// every strategy when there is no model.
func catalogOnly(c *Catalog, req engine.RecRequest, h *history) []engine.Recommended {
	b := DefaultOptions().Blend
	_, ids := c.indexes()
	es := make([]entry, 0, len(ids))
	c.lookup(ids, func(_ int, it engine.Item, ok bool) bool {
		if !ok {
			return true
		}
		e := entry{id: it.ID}
		if s, why := h.match(it); s > 0 && why != "" {
			e.score += b.Interest * s
			e.reasons = append(e.reasons, why)
		}
		if state, fresh := launchState(it, h.now, b); state != "" {
			e.score += b.NewArrival * (0.5 + 0.5*fresh)
			e.reasons = append(e.reasons, state)
			e.upcoming = state == "upcoming" && req.Strategy == engine.StrategyNewArrivals
		}
		if len(e.reasons) == 0 {
			e.reasons = []string{"in_catalog"}
		}
		es = append(es, e)
		return true
	})
	return finish(c, req, es, func(id engine.ItemID) bool {
		return id == req.Item || (req.Strategy == engine.StrategyForYou && h.bought[id])
	})
}

// The parts of a for_you score.
const (
	pALS = iota
	pSimilar
	pBoughtWith
	pRegion
	pPopular
	pInterest
	pNew
	nParts
)

// scratch is the per-request working space of for_you, sized to the model.
type scratch struct {
	knn, comp, reg  []float64
	knnTop, compTop []float64 // best single contribution so far
	knnSrc, compSrc []int32   // its source item
	als             []float64
	mark, bought    []bool
	touched         []int32
	maxSpread       int // neighbours used per source
}

func newScratch(n int) *scratch {
	return &scratch{
		knn: make([]float64, n), comp: make([]float64, n), reg: make([]float64, n),
		knnTop: make([]float64, n), compTop: make([]float64, n),
		knnSrc: make([]int32, n), compSrc: make([]int32, n),
		als: make([]float64, n), mark: make([]bool, n), bought: make([]bool, n),
	}
}

func (s *scratch) touch(i int32) {
	if !s.mark[i] {
		s.mark[i] = true
		s.touched = append(s.touched, i)
	}
}

func (s *scratch) reset() {
	for _, i := range s.touched {
		s.knn[i], s.comp[i], s.reg[i], s.knnTop[i], s.compTop[i] = 0, 0, 0, 0, 0
		s.mark[i], s.bought[i] = false, false
	}
	s.touched = s.touched[:0]
}

// spread adds w times the neighbours of src to acc, remembering per item the
// source of the largest contribution.
func (s *scratch) spread(nb *neighbors, src int32, w float64, acc, top []float64, from []int32) {
	its, scs := nb.of(src)
	its = its[:min(len(its), s.maxSpread)]
	for t, j := range its {
		v := w * float64(scs[t])
		s.touch(j)
		acc[j] += v
		if v > top[j] {
			top[j], from[j] = v, src
		}
	}
}

// candHeap is a min-heap of the best candidates seen so far.
type candHeap []cand

func (h candHeap) Len() int           { return len(h) }
func (h candHeap) Less(i, j int) bool { return byScore(h[i], h[j]) > 0 }
func (h candHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *candHeap) Push(x any)        { *h = append(*h, x.(cand)) }
func (h *candHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// forYou blends the fold-in ALS score, item-kNN and bought-with of the
// history (and the context item), regional and global popularity, then
// reranks the best candidates with interest and search matches and new
// arrivals. Without any personal signal it is global popularity (plus the
// context item), exactly the non-personalized list.
func (m *Model) forYou(c *Catalog, req engine.RecRequest, h *history) []engine.Recommended {
	if m == nil {
		return catalogOnly(c, req, h)
	}
	b := m.opts.Blend
	n := len(m.ids)
	s := m.scratch.Get().(*scratch)
	defer func() { s.reset(); m.scratch.Put(s) }()

	// Scoring every item, use the whole history; else bound the candidates.
	exact := m.opts.ExactScoringMax < 0 || n <= m.opts.ExactScoringMax
	sources := len(h.items)
	s.maxSpread = math.MaxInt
	if !exact {
		sources, s.maxSpread = maxSources, maxSpread
	}
	for j, i := range h.items[:min(len(h.items), sources)] {
		s.spread(&m.similar, i, h.weight[j], s.knn, s.knnTop, s.knnSrc)
	}
	carts := make([]int32, 0, len(h.carts))
	for i := range h.carts {
		carts = append(carts, i)
	}
	slices.SortFunc(carts, func(a, b int32) int {
		if c := cmp.Compare(h.carts[b], h.carts[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, i := range carts[:min(len(carts), sources)] {
		s.spread(&m.complement, i, h.carts[i], s.comp, s.compTop, s.compSrc)
	}
	ctxItem, hasCtx := m.itemIndex(req.Item)
	if hasCtx {
		s.spread(&m.similar, ctxItem, 1, s.knn, s.knnTop, s.knnSrc)
		s.spread(&m.complement, ctxItem, 1, s.comp, s.compTop, s.compSrc)
		s.touch(ctxItem)
		s.bought[ctxItem] = true // never recommend the context item itself
	}
	for id := range h.bought {
		if i, ok := m.index[id]; ok {
			s.touch(i)
			s.bought[i] = true
		}
	}
	rk, hasRegion := m.regions[req.Region]
	hasRegion = hasRegion && req.Region != ""
	if hasRegion {
		for _, i := range rk.Items[:min(candRegion, len(rk.Items))] {
			s.touch(i)
		}
	}
	for _, i := range m.popular[:min(candPopular, len(m.popular))] {
		s.touch(i)
	}
	if hasRegion { // only touched items, so reset clears every score set
		for j, i := range rk.Items {
			if exact {
				s.touch(i)
			}
			if s.mark[i] {
				s.reg[i] = rk.Scores[j]
			}
		}
	}
	x := m.foldIn(h)
	if x != nil {
		if exact {
			blas64.Gemv(blas.NoTrans, 1, blas64.General{Rows: n, Cols: m.k, Data: m.y, Stride: m.k},
				blas64.Vector{N: m.k, Data: x, Inc: 1}, 0, blas64.Vector{N: n, Data: s.als, Inc: 1})
		} else {
			for _, i := range s.touched {
				s.als[i] = dot(x, m.row(i))
			}
		}
	}
	var maxA, maxK, maxB float64
	visit := func(f func(i int32)) {
		if exact {
			for i := range int32(n) {
				f(i)
			}
			return
		}
		for _, i := range s.touched {
			f(i)
		}
	}
	visit(func(i int32) {
		if x != nil {
			maxA = max(maxA, s.als[i])
		}
		maxK = max(maxK, s.knn[i])
		maxB = max(maxB, s.comp[i])
	})
	parts := func(i int32) (p [nParts]float64) {
		if maxA > 0 {
			p[pALS] = b.ALS * min(1, max(0, s.als[i])/maxA)
		}
		if maxK > 0 {
			p[pSimilar] = b.Similar * s.knn[i] / maxK
		}
		if maxB > 0 {
			p[pBoughtWith] = b.BoughtWith * s.comp[i] / maxB
		}
		p[pRegion] = b.Region * s.reg[i]
		p[pPopular] = b.Popular * m.pop[i]
		return p
	}
	pool := max(100, 3*req.Limit)
	best := make(candHeap, 0, pool+1)
	visit(func(i int32) {
		if s.bought[i] {
			return
		}
		p := parts(i)
		v := p[pALS] + p[pSimilar] + p[pBoughtWith] + p[pRegion] + p[pPopular]
		if v <= 0 {
			return
		}
		ci := cand{i, v}
		if len(best) < pool {
			heap.Push(&best, ci)
		} else if byScore(ci, best[0]) < 0 {
			best[0] = ci
			heap.Fix(&best, 0)
		}
	})

	// Rerank the pool, with the new arrivals that match, by content.
	type row struct {
		i     int32 // -1: not in the model
		parts [nParts]float64
		total float64
		why   string // interest match
		state string // new_arrival, upcoming
		id    engine.ItemID
	}
	rows := make([]row, 0, len(best)+16)
	score := func(r *row, it engine.Item, ms float64, why string) {
		if r.i >= 0 {
			r.parts = parts(r.i)
		}
		if ms > 0 && why != "" {
			r.parts[pInterest] = b.Interest * min(1, ms)
			r.why = why
			if state, fresh := launchState(it, h.now, b); state != "" {
				r.parts[pNew] = b.NewArrival * min(1, ms) * (0.5 + 0.5*fresh)
				r.state = state
			}
		}
		for _, v := range r.parts {
			r.total += v
		}
	}
	ids := make([]engine.ItemID, len(best))
	for j, ci := range best {
		ids[j] = m.ids[ci.i]
		s.touch(ci.i)         // so reset clears the mark
		s.bought[ci.i] = true // in the pool: not again below
	}
	c.lookup(ids, func(j int, it engine.Item, ok bool) bool {
		if ok && it.InStock && availableIn(it, req.AvailableIn) {
			r := row{i: best[j].i, id: it.ID}
			ms, why := h.match(it)
			score(&r, it, ms, why)
			rows = append(rows, r)
		}
		return true
	})
	byTotal := func(a, b row) int {
		if c := cmp.Compare(b.total, a.total); c != 0 {
			return c
		}
		return strings.Compare(string(a.id), string(b.id))
	}
	slices.SortFunc(rows, byTotal)
	threshold := math.Inf(-1) // what a new arrival must reach to make the list
	if len(rows) >= req.Limit {
		threshold = rows[req.Limit-1].total
	}
	if h.matches() {
		n := 0
		for it := range c.launchedBetween(h.now.Add(-b.NewFor), h.now.Add(b.UpcomingFor)) {
			if n++; n > maxLaunches {
				break
			}
			if !it.InStock || !availableIn(it, req.AvailableIn) {
				continue
			}
			ms, why := h.match(it)
			if ms <= 0 || why == "" {
				continue
			}
			i, known := m.index[it.ID]
			if known && s.bought[i] || h.bought[it.ID] {
				continue
			}
			r := row{i: -1, id: it.ID}
			if known {
				r.i = i
				if !s.mark[i] { // not a candidate: its scratch scores are stale
					s.touch(i)
					if x != nil {
						s.als[i] = dot(x, m.row(i))
					}
				}
			}
			score(&r, it, ms, why)
			if r.total >= threshold {
				rows = append(rows, r)
			}
		}
		slices.SortFunc(rows, byTotal)
	}
	rows = rows[:min(req.Limit, len(rows))]
	out := make([]engine.Recommended, len(rows))
	for j, r := range rows {
		why := func(p int) string {
			switch p {
			case pALS:
				if r.i >= 0 {
					if src, ok := m.sourceOf(s, h, r.i, hasCtx, ctxItem); ok {
						return m.because(h, src)
					}
				}
			case pSimilar:
				return m.because(h, s.knnSrc[r.i])
			case pBoughtWith:
				return "bought_with:" + string(m.ids[s.compSrc[r.i]])
			case pRegion:
				return "popular_in_region:" + req.Region
			case pPopular:
				return "popular"
			case pInterest:
				return r.why
			case pNew:
				return r.state
			}
			return ""
		}
		out[j] = engine.Recommended{Item: r.id, Score: r.total, Reasons: reasons(r.parts[:], why)}
	}
	return out
}

// reasons names the parts that carry at least a quarter of the largest, at
// most three, largest first; "popular" if none has a name.
func reasons(parts []float64, name func(int) string) []string {
	order := make([]int, 0, len(parts))
	top := 0.0
	for p, v := range parts {
		if v > 0 {
			order = append(order, p)
			top = max(top, v)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(parts[b], parts[a]) })
	var out []string
	for _, p := range order {
		if parts[p] < top/4 || len(out) == 3 {
			break
		}
		if r := name(p); r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		out = []string{"popular"}
	}
	return out
}

// because names a history item as the reason: bought or otherwise engaged.
func (m *Model) because(h *history, src int32) string {
	id := m.ids[src]
	if h.bought[id] {
		return "because_you_bought:" + string(id)
	}
	return "similar_to:" + string(id)
}

// sourceOf finds the history item (or context item) whose factors are
// closest to item i, for the reason of an ALS score.
func (m *Model) sourceOf(s *scratch, h *history, i int32, hasCtx bool, ctx int32) (int32, bool) {
	if s.knnTop[i] > 0 {
		return s.knnSrc[i], true
	}
	best, src, found := math.Inf(-1), int32(0), false
	cands := h.items
	if hasCtx {
		cands = append(slices.Clip(cands), ctx)
	}
	for _, j := range cands {
		if m.norm[j] == 0 {
			continue
		}
		if v := dot(m.row(i), m.row(j)) / m.norm[j]; v > best {
			best, src, found = v, j, true
		}
	}
	return src, found
}
