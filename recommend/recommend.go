package recommend

import (
	"cmp"
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
	// maxSpread is how many neighbours of each history item a request uses
	// when it scores only candidates in a catalog of more than
	// wholeHistoryMax items; up to that size candidates come from all
	// neighbours of the (maxHistorySources heaviest items of the) history
	// (and score on Online Retail as every item does).
	maxSpread       = 25
	wholeHistoryMax = 20_000
)

// Recommend returns up to req.Limit items (10 if zero, at most 200) for
// req.Strategy, best first, each with short reasons. Only in-stock catalog
// items sold in req.AvailableIn are returned (upcoming launches may be out
// of stock in new_arrivals); for_you, region and new_arrivals leave out
// what History shows bought (so only when it holds purchases: when the
// shopper allows them to be used).
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
	var h *history
	switch {
	case m == nil:
		h = readHistory(m, c, req)
	case req.Strategy == engine.StrategySimilar || req.Strategy == engine.StrategyComplementary:
		h = m.histories.Get().(*history) // empty: see releaseHistory
		h.start(req)                     // the lists of a model read no more of it
	case req.Strategy == engine.StrategyRegion:
		h = readPurchases(m, req) // only what was bought, to leave it out
	default:
		h = readHistory(m, c, req)
	}
	defer m.releaseHistory(h)
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
	reason   string // the only reason, if reasons is nil
	upcoming bool   // not on sale yet: may be out of stock
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
// filters and exclude, and cuts at req.Limit. It takes entries best first
// from a heap, so the order of those never reached costs nothing.
func finish(c *Catalog, req engine.RecRequest, es []entry, exclude func(engine.ItemID) bool) []engine.Recommended {
	out := make([]engine.Recommended, 0, min(req.Limit, len(es)))
	seen := make(map[engine.ItemID]bool, req.Limit)
	for j := len(es)/2 - 1; j >= 0; j-- {
		siftDown(es, j, byTier)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for len(es) > 0 && len(out) < req.Limit {
		e := es[0]
		last := len(es) - 1
		es[0] = es[last]
		es = es[:last]
		siftDown(es, 0, byTier)
		k, ok := c.items[e.id]
		if !ok || seen[e.id] {
			continue
		}
		it := &c.rows[k].Item
		if (!it.InStock && !e.upcoming) || !availableIn(*it, req.AvailableIn) || (exclude != nil && exclude(e.id)) {
			continue
		}
		seen[e.id] = true
		rs := e.reasons
		if rs == nil {
			rs = []string{e.reason}
		}
		out = append(out, engine.Recommended{Item: e.id, Score: e.score, Reasons: rs})
	}
	return out
}

// siftDown restores the heap order of h (first by first, a func like
// byTier) below j.
func siftDown[T any](h []T, j int, first func(a, b T) int) {
	for {
		b, l := j, 2*j+1
		if l < len(h) && first(h[l], h[b]) < 0 {
			b = l
		}
		if r := l + 1; r < len(h) && first(h[r], h[b]) < 0 {
			b = r
		}
		if b == j {
			return
		}
		h[j], h[b] = h[b], h[j]
		j = b
	}
}

// contextList serves similar and complementary: the context item's
// neighbours, then (when they are fewer than the limit) items sharing its
// tags, then popular items; each tier best first, ties by id, each item
// once, in stock, sold in req.AvailableIn and not the context item.
//
// It lists what sorting every entry of the three tiers (finish) would,
// reading no more than it needs: the neighbours are few; the catalog is
// scanned for items sharing tags only if the neighbours that pass the
// filters do not fill the list; and popular items are walked from the
// sorted popular list (rankPop: best first, ties by id, the order finish
// gives them) only until the list is full.
func (m *Model) contextList(c *Catalog, req engine.RecRequest, h *history) []engine.Recommended {
	var (
		view *catalogView
		its  []int32
		scs  []float32
		pick pickedSet // the model items listed, and the context item
	)
	ctx, inModel := m.itemIndex(req.Item)
	if m != nil {
		view = m.view(c)
		if inModel {
			nb := &m.similar
			if req.Strategy == engine.StrategyComplementary {
				nb = &m.complement
			}
			its, scs = nb.of(ctx)
			pick.add(ctx)
		}
	}
	out := make([]engine.Recommended, 0, req.Limit)
	why := make([]string, 0, req.Limit) // the reasons, one a list item
	take := func(id engine.ItemID, score float64, reason string) {
		why = append(why, reason)
		n := len(why)
		out = append(out, engine.Recommended{Item: id, Score: score, Reasons: why[n-1 : n : n]})
	}
	sold := func(it *engine.Item) bool { return it.InStock && availableIn(*it, req.AvailableIn) }
	c.mu.RLock()
	defer c.mu.RUnlock()

	// The neighbours, sorted as finish sorts them. They are kept best first
	// by float64 score, ties by index; their float32 scores may tie where
	// those did not, and finish orders ties by id.
	if len(its) > 0 {
		var buf [64]scoredItem
		nbs := buf[:0]
		if len(its) > len(buf) {
			nbs = make([]scoredItem, 0, len(its))
		}
		for t, j := range its {
			nbs = append(nbs, scoredItem{i: j, s: float64(scs[t])})
		}
		slices.SortFunc(nbs, func(a, b scoredItem) int {
			if c := cmp.Compare(b.s, a.s); c != 0 {
				return c
			}
			return strings.Compare(string(m.ids[a.i]), string(m.ids[b.i]))
		})
		reason := "similar_to:" + string(req.Item)
		if req.Strategy == engine.StrategyComplementary {
			reason = "bought_with:" + string(req.Item)
		}
		for _, e := range nbs {
			if len(out) == req.Limit {
				return out
			}
			if k := view.slot[e.i]; k < 0 || pick.has(e.i) || !sold(&c.rows[k].Item) {
				continue
			}
			pick.add(e.i)
			take(m.ids[e.i], e.s, reason)
		}
	}
	if len(out) == req.Limit {
		return out
	}

	// Items sharing the context item's tags, if the neighbours that pass
	// the filters are fewer than the limit: a product page whose
	// neighbours are sold out still shows items like it before popular ones.
	if req.Item != "" {
		if ms := tagNeighbours(m, c, view, req, h, &pick, sold, req.Limit-len(out)); len(ms) > 0 {
			reason := "similar_to:" + string(req.Item)
			for _, e := range ms {
				if e.i >= 0 {
					pick.add(e.i)
				}
				take(e.id, e.s, reason)
			}
		}
	}
	if m == nil {
		return out
	}

	// Popular items, each listed once (rankPop).
	for _, i := range m.popular {
		if len(out) == req.Limit {
			break
		}
		if k := view.slot[i]; k < 0 || pick.has(i) || !sold(&c.rows[k].Item) {
			continue
		}
		take(m.ids[i], m.pop[i], "popular")
	}
	return out
}

func (m *Model) itemIndex(id engine.ItemID) (int32, bool) {
	if m == nil || id == "" {
		return 0, false
	}
	i, ok := m.index[id]
	return i, ok
}

// A scoredItem is a model item with a score.
type scoredItem struct {
	i int32
	s float64
}

// A pickedSet is a sorted set of model items, at most one more than the
// longest list.
type pickedSet struct {
	n int
	a [maxLimit + 1]int32
}

func (p *pickedSet) has(i int32) bool {
	_, ok := slices.BinarySearch(p.a[:p.n], i)
	return ok
}

func (p *pickedSet) add(i int32) {
	j, ok := slices.BinarySearch(p.a[:p.n], i)
	if ok {
		return
	}
	copy(p.a[j+1:p.n+1], p.a[j:p.n])
	p.a[j] = i
	p.n++
}

// A tagMatch is a catalog item sharing tags with a context item.
type tagMatch struct {
	id engine.ItemID
	s  float64 // the share of the context item's tags it has
	i  int32   // its model index; -1: none
}

// worseMatch orders matches worst first: by score, then by id descending.
func worseMatch(a, b tagMatch) int {
	if c := cmp.Compare(a.s, b.s); c != 0 {
		return c
	}
	return strings.Compare(string(b.id), string(a.id))
}

// tagNeighbours returns the k best (by score, ties by id) catalog items
// sharing interest tags with req.Item (tags the shopper blocked do not
// count), best first, each scored by the share of the item's tags it has:
// only those sold (see sold), other than req.Item and not in pick. It
// scans the catalog; c.mu must be held. m and view may be nil.
func tagNeighbours(m *Model, c *Catalog, view *catalogView, req engine.RecRequest, h *history,
	pick *pickedSet, sold func(*engine.Item) bool, k int) []tagMatch {
	ctx, ok := c.items[req.Item]
	if !ok || k <= 0 {
		return nil
	}
	var buf [8]string
	want := buf[:0] // the item's tags, each once
	for _, t := range c.rows[ctx].interests {
		if !h.blocked[t] && !slices.Contains(want, t) {
			want = append(want, t)
		}
	}
	if len(want) == 0 {
		return nil
	}
	var best []tagMatch // the k best, in a heap worst first
	for slot := range c.rows {
		r := &c.rows[slot]
		n := 0
		for _, t := range r.interests {
			if slices.Contains(want, t) {
				n++
			}
		}
		if n == 0 || r.ID == req.Item || !sold(&r.Item) {
			continue
		}
		e := tagMatch{id: r.ID, s: float64(n) / float64(len(want)), i: -1}
		if len(best) == k && worseMatch(e, best[0]) <= 0 {
			continue // no better than the worst kept
		}
		if m != nil {
			if i, known := view.indexOf(m, int32(slot), r.ID); known {
				if pick.has(i) {
					continue // listed as a neighbour
				}
				e.i = i
			}
		}
		best = pushBest(best, k, e, worseMatch)
	}
	slices.SortFunc(best, func(a, b tagMatch) int { return worseMatch(b, a) })
	return best
}

// regionList serves region: popular in the shopper's region, then popular,
// without what the history (purchases, when allowed: h) shows bought.
//
// Both lists are kept best first, ties by id (rankPop), the order finish
// would give them: the list is their first items that pass the filters,
// and a request reads only as many.
func (m *Model) regionList(c *Catalog, req engine.RecRequest, h *history) []engine.Recommended {
	if m == nil {
		return catalogOnly(c, req, h)
	}
	var (
		rk ranked
		ok bool
	)
	if req.Region != "" {
		rk, ok = m.regions[req.Region]
	}
	out := make([]engine.Recommended, 0, req.Limit)
	why := make([]string, 0, req.Limit) // the reasons, one a list item
	slot := m.view(c).slot
	c.mu.RLock()
	defer c.mu.RUnlock()
	take := func(i int32, score float64, reason string) {
		if k := slot[i]; k < 0 || h.boughtAt(i) {
			return
		} else if it := &c.rows[k].Item; !it.InStock || !availableIn(*it, req.AvailableIn) {
			return
		}
		why = append(why, reason)
		n := len(why)
		out = append(out, engine.Recommended{Item: m.ids[i], Score: score, Reasons: why[n-1 : n : n]})
	}
	if ok {
		reason := "popular_in_region:" + req.Region
		for j, i := range rk.Items {
			if len(out) == req.Limit {
				return out
			}
			take(i, rk.Scores[j], reason)
		}
	}
	picked := m.picked(out) // listed already as regional, not again as popular
	for _, i := range m.popular {
		if len(out) == req.Limit {
			break
		}
		if !picked(i) {
			take(i, m.pop[i], "popular")
		}
	}
	return out
}

// picked returns whether model item i is in recs, a short list of the
// model's items.
func (m *Model) picked(recs []engine.Recommended) func(i int32) bool {
	if len(recs) <= 8 {
		return func(i int32) bool {
			return slices.ContainsFunc(recs, func(r engine.Recommended) bool { return r.Item == m.ids[i] })
		}
	}
	in := make(map[engine.ItemID]bool, len(recs))
	for _, r := range recs {
		in[r.Item] = true
	}
	return func(i int32) bool { return in[m.ids[i]] }
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
// the shopper's tags and searches first. Each is scored by its freshness,
// its match and its popularity, and listed best first (ties by id) if in
// stock or upcoming, sold in req.AvailableIn and not bought (h).
//
// It lists what sorting every item of the launch window (finish) would:
// the filters do not depend on the order, so it keeps only the best
// req.Limit that pass them, and joins reasons only for those.
func (m *Model) newArrivals(c *Catalog, req engine.RecRequest, h *history) []engine.Recommended {
	b := m.blend()
	var view *catalogView
	if m != nil {
		view = m.view(c)
	}
	launch, lslot := c.launchedIn(h.now.Add(-b.NewFor), h.now.Add(b.UpcomingFor))
	best := make([]arrival, 0, min(req.Limit, len(launch))) // in a heap worst first
	for j := range launch {
		it := &launch[j]
		state, fresh := launchState(*it, h.now, b)
		if state == "" || !it.InStock && state != "upcoming" || !availableIn(*it, req.AvailableIn) {
			continue
		}
		i, known := int32(-1), false
		if m != nil {
			i, known = view.indexOf(m, lslot[j], it.ID)
		}
		if known && h.boughtAt(i) || !known && h.bought(it.ID) {
			continue
		}
		a := arrival{id: it.ID, score: 0.5 * fresh, state: state}
		if ms, kind, name := h.matchParts(it); ms > 0 && kind != "" {
			a.score += ms
			a.kind, a.name = kind, name
		}
		if known {
			a.score += 0.2 * m.pop[i]
		}
		best = pushBest(best, req.Limit, a, worseArrival)
	}
	slices.SortFunc(best, func(a, b arrival) int { return worseArrival(b, a) })
	out := make([]engine.Recommended, len(best))
	why := make([]string, 0, 2*len(best)) // the reasons of every list item
	for j, a := range best {
		n := len(why)
		why = append(why, a.state)
		if a.kind != "" {
			why = append(why, a.kind+a.name)
		}
		out[j] = engine.Recommended{Item: a.id, Score: a.score, Reasons: why[n:len(why):len(why)]}
	}
	return out
}

// An arrival is a new or upcoming item on its way to a list.
type arrival struct {
	id         engine.ItemID
	score      float64
	state      string // new_arrival, upcoming
	kind, name string // the best match (history.matchParts); kind empty: none
}

// worseArrival orders arrivals worst first: by score, then by id descending.
func worseArrival(a, b arrival) int {
	if c := cmp.Compare(a.score, b.score); c != 0 {
		return c
	}
	return strings.Compare(string(b.id), string(a.id))
}

// pushBest offers x to best, the k best seen (by worse) in a heap worst
// first, and returns best.
func pushBest[T any](best []T, k int, x T, worse func(a, b T) int) []T {
	if len(best) < k {
		best = append(best, x)
		for j := len(best) - 1; j > 0; { // up
			p := (j - 1) / 2
			if worse(best[j], best[p]) >= 0 {
				break
			}
			best[j], best[p] = best[p], best[j]
			j = p
		}
		return best
	}
	if k == 0 || worse(x, best[0]) <= 0 {
		return best // no better than the worst kept
	}
	best[0] = x
	siftDown(best, 0, worse)
	return best
}

// buyAgain serves buy_again: what the shopper bought, weighted by how often
// buyers of the item buy it again, how often the shopper did, and recency.
func (m *Model) buyAgain(c *Catalog, req engine.RecRequest, h *history) []engine.Recommended {
	b := m.blend()
	var es []entry
	for _, it := range h.seen {
		if it.orders == 0 {
			continue
		}
		rate := 0.0
		if it.i >= 0 {
			rate = m.repeat[it.i]
		}
		s := (rate + 0.05) * (1 + math.Log(float64(it.orders))) * decay(h.now.Sub(it.lastBuy), 2*b.HalfLife)
		es = append(es, entry{id: it.id, score: s, reason: "buy_again"})
	}
	return finish(c, req, es, nil)
}

// catalogOnly ranks the whole catalog by content: matches with the shopper's
// tags and searches, new arrivals and upcoming launches, then by id. It serves
// every strategy when there is no model.
func catalogOnly(c *Catalog, req engine.RecRequest, h *history) []engine.Recommended {
	b := DefaultOptions().Blend
	_, _, ids := c.indexes()
	es := make([]entry, 0, len(ids))
	c.lookup(ids, func(_ int, it engine.Item, ok bool) bool {
		if !ok {
			return true
		}
		e := entry{id: it.ID}
		if s, why := h.match(&it); s > 0 && why != "" {
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
		return id == req.Item || ((req.Strategy == engine.StrategyForYou || req.Strategy == engine.StrategyRegion) && h.bought(id))
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
	knn, comp []spreadSum
	reg       []float64
	als       []float64
	x, conf   []float64 // the fold-in's factors and confidences
	mark      []uint8   // 1 if a candidate (see touch); a byte, to be added up
	bought    []bool
	touched   []int32
	maxSpread int  // neighbours used per source
	markOnly  bool // spread marks items; markAll touches them later
	best      topK
}

func newScratch(n, k int) *scratch {
	return &scratch{
		x:   make([]float64, k),
		knn: make([]spreadSum, n), comp: make([]spreadSum, n), reg: make([]float64, n),
		als: make([]float64, n), mark: make([]uint8, n), bought: make([]bool, n),
	}
}

func (s *scratch) touch(i int32) {
	if s.mark[i] == 0 {
		s.mark[i] = 1
		s.touched = append(s.touched, i)
	}
}

// markAll touches every marked item, in index order; nothing may have
// been touched yet.
func (s *scratch) markAll() {
	t := s.touched[:cap(s.touched)]
	if len(t) < len(s.mark) {
		t = make([]int32, len(s.mark))
	}
	c := 0
	for i, mk := range s.mark { // without a branch: marks are unpredictable
		t[c] = int32(i)
		c += int(mk)
	}
	s.touched = t[:c]
}

func (s *scratch) reset() {
	for _, i := range s.touched {
		s.knn[i], s.comp[i], s.reg[i] = spreadSum{}, spreadSum{}, 0
		s.mark[i], s.bought[i] = 0, false
	}
	s.touched = s.touched[:0]
}

// A spreadSum is what spread gathers for one item: the sum of the
// contributions, the largest single one and its source. One struct rather
// than three slices, so that each neighbour costs one cache line.
type spreadSum struct {
	sum, top float64
	src      int32
}

// spread adds w times the neighbours of src to acc, remembering per item the
// source of the largest contribution, and touches them (or only marks them,
// with s.markOnly: cheaper when there are many).
func (s *scratch) spread(nb *neighbors, src int32, w float64, acc []spreadSum) {
	its, scs := nb.of(src)
	its = its[:min(len(its), s.maxSpread)]
	scs = scs[:len(its)]
	if s.markOnly {
		for t, j := range its {
			v := w * float64(scs[t])
			s.mark[j] = 1
			a := &acc[j]
			a.sum += v
			if v > a.top {
				a.top, a.src = v, src
			}
		}
		return
	}
	for t, j := range its {
		v := w * float64(scs[t])
		s.touch(j)
		a := &acc[j]
		a.sum += v
		if v > a.top {
			a.top, a.src = v, src
		}
	}
}

// topK keeps the k best candidates seen, in a min-heap (worst first).
type topK struct {
	k int
	h []cand
}

func (t *topK) reset(k int) {
	t.k, t.h = k, t.h[:0]
}

// push offers c.
func (t *topK) push(c cand) {
	h := t.h
	if len(h) < t.k {
		h = append(h, c)
		for j := len(h) - 1; j > 0; { // up
			p := (j - 1) / 2
			if byScore(h[j], h[p]) <= 0 {
				break
			}
			h[j], h[p] = h[p], h[j]
			j = p
		}
		t.h = h
		return
	}
	if c.s < h[0].s || byScore(c, h[0]) >= 0 {
		return // no better than the worst kept
	}
	h[0] = c
	for j := 0; ; { // down
		w, l := j, 2*j+1
		if l < len(h) && byScore(h[l], h[w]) > 0 {
			w = l
		}
		if r := l + 1; r < len(h) && byScore(h[r], h[w]) > 0 {
			w = r
		}
		if w == j {
			break
		}
		h[j], h[w] = h[w], h[j]
		j = w
	}
}

// blended scales the first parts of a for_you score over the candidates.
type blended struct {
	b             Blend
	inA, inK, inB float64 // 1/max of the ALS, kNN and bought-with scores; 0 if none is positive
	als           []float64
	knn, comp     []spreadSum
	reg, pop      []float64
}

func (p *blended) setMax(maxA, maxK, maxB float64) {
	inv := func(v float64) float64 {
		if v > 0 {
			return 1 / v
		}
		return 0
	}
	p.inA, p.inK, p.inB = inv(maxA), inv(maxK), inv(maxB)
}

// parts returns the model's parts of the score of item i.
func (p *blended) parts(i int32) (out [nParts]float64) {
	out[pALS] = p.b.ALS * min(1, max(0, p.als[i])*p.inA)
	out[pSimilar] = p.b.Similar * (p.knn[i].sum * p.inK)
	out[pBoughtWith] = p.b.BoughtWith * (p.comp[i].sum * p.inB)
	out[pRegion] = p.b.Region * p.reg[i]
	out[pPopular] = p.b.Popular * p.pop[i]
	return out
}

// total returns the sum of parts(i), added in the same order.
func (p *blended) total(i int32) float64 {
	return p.b.ALS*min(1, max(0, p.als[i])*p.inA) + p.b.Similar*(p.knn[i].sum*p.inK) +
		p.b.BoughtWith*(p.comp[i].sum*p.inB) + p.b.Region*p.reg[i] + p.b.Popular*p.pop[i]
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

	// Scoring every item, or candidates in a catalog of moderate size, use
	// the whole history; else bound the candidates.
	exact := m.opts.ExactScoringMax < 0 || n <= m.opts.ExactScoringMax
	sources := maxHistorySources
	s.maxSpread, s.markOnly = math.MaxInt, true
	if !exact && n > m.historyMax {
		sources, s.maxSpread, s.markOnly = maxSources, maxSpread, false
	}
	for j, i := range h.items[:min(len(h.items), sources)] {
		s.spread(&m.similar, i, h.weight[j], s.knn)
	}
	slices.SortFunc(h.carts, byScore) // heaviest first
	for _, ci := range h.carts[:min(len(h.carts), sources)] {
		s.spread(&m.complement, ci.i, ci.s, s.comp)
	}
	ctxItem, hasCtx := m.itemIndex(req.Item)
	if hasCtx {
		s.spread(&m.similar, ctxItem, 1, s.knn)
		s.spread(&m.complement, ctxItem, 1, s.comp)
	}
	if s.markOnly {
		s.markAll()
	}
	if hasCtx {
		s.touch(ctxItem)
		s.bought[ctxItem] = true // never recommend the context item itself
	}
	for _, it := range h.seen {
		if it.orders > 0 && it.i >= 0 {
			s.touch(it.i)
			s.bought[it.i] = true
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
			if s.mark[i] != 0 {
				s.reg[i] = rk.Scores[j]
			}
		}
	}
	x := m.foldIn(h, s)
	if x != nil {
		if exact || 2*len(s.touched) > n { // one product beats many dots
			blas64.Gemv(blas.NoTrans, 1, blas64.General{Rows: n, Cols: m.k, Data: m.y, Stride: m.k},
				blas64.Vector{N: m.k, Data: x, Inc: 1}, 0, blas64.Vector{N: n, Data: s.als, Inc: 1})
		} else {
			for _, i := range s.touched {
				s.als[i] = dot(x, m.row(i))
			}
		}
	}
	sc := blended{b: b, als: s.als[:n], knn: s.knn[:n], comp: s.comp[:n], reg: s.reg[:n], pop: m.pop[:n]}
	var maxA, maxK, maxB float64
	if exact {
		for i := range sc.knn {
			maxK = max(maxK, sc.knn[i].sum)
			maxB = max(maxB, sc.comp[i].sum)
		}
		if x != nil {
			for _, v := range sc.als {
				maxA = max(maxA, v)
			}
		}
	} else {
		for _, i := range s.touched {
			if x != nil {
				maxA = max(maxA, s.als[i])
			}
			maxK = max(maxK, s.knn[i].sum)
			maxB = max(maxB, s.comp[i].sum)
		}
	}
	sc.setMax(maxA, maxK, maxB)
	best := &s.best
	best.reset(max(100, 3*req.Limit))
	if exact {
		for i := range int32(n) {
			v := sc.total(i)
			if v <= 0 || s.bought[i] || len(best.h) == best.k && v < best.h[0].s {
				continue
			}
			best.push(cand{i, v})
		}
	} else {
		for _, i := range s.touched {
			v := sc.total(i)
			if v <= 0 || s.bought[i] || len(best.h) == best.k && v < best.h[0].s {
				continue
			}
			best.push(cand{i, v})
		}
	}

	// Rerank the pool, with the new arrivals that match, by content.
	type row struct {
		i     int32 // -1: not in the model
		parts [nParts]float64
		total float64
		why   [2]string // interest match: kind, name
		state string    // new_arrival, upcoming
		id    engine.ItemID
	}
	store := make([]row, 0, len(best.h)+16)
	rows := make([]*row, 0, len(best.h)+16) // sorted as pointers: rows are large
	add := func(r *row) {
		store = append(store, *r)
		rows = append(rows, &store[len(store)-1])
	}
	score := func(r *row, it *engine.Item, ms float64, kind, name string) {
		if r.i >= 0 {
			r.parts = sc.parts(r.i)
		}
		if ms > 0 && kind != "" {
			r.parts[pInterest] = b.Interest * min(1, ms)
			r.why = [2]string{kind, name}
			if state, fresh := launchState(*it, h.now, b); state != "" {
				r.parts[pNew] = b.NewArrival * min(1, ms) * (0.5 + 0.5*fresh)
				r.state = state
			}
		}
		for _, v := range r.parts {
			r.total += v
		}
	}
	slot := m.view(c).slot
	c.mu.RLock()
	for _, ci := range best.h {
		s.touch(ci.i)         // so reset clears the mark
		s.bought[ci.i] = true // in the pool: not again below
		k := slot[ci.i]
		if k < 0 {
			continue
		}
		it := &c.rows[k].Item
		if it.InStock && availableIn(*it, req.AvailableIn) {
			r := row{i: ci.i, id: it.ID}
			ms, kind, name := h.matchParts(it)
			score(&r, it, ms, kind, name)
			add(&r)
		}
	}
	c.mu.RUnlock()
	byTotal := func(a, b *row) int {
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
	// A new arrival's content parts are at most Interest and NewArrival: with
	// no negative weight, those that cannot reach threshold are not matched.
	bounded := b.ALS >= 0 && b.Similar >= 0 && b.BoughtWith >= 0 && b.Region >= 0 && b.Popular >= 0 &&
		b.Interest >= 0 && b.NewArrival >= 0
	if h.matches() {
		view := m.view(c)
		launch, lslot := c.launchedIn(h.now.Add(-b.NewFor), h.now.Add(b.UpcomingFor))
		for j := len(launch) - 1; j >= max(0, len(launch)-maxLaunches); j-- { // newest first
			it := &launch[j]
			if !it.InStock || !availableIn(*it, req.AvailableIn) {
				continue
			}
			i, known := view.indexOf(m, lslot[j], it.ID)
			if known && s.bought[i] || !known && h.bought(it.ID) { // known and bought: s.bought
				continue
			}
			if bounded {
				ub := 0.0 // the model's parts
				switch {
				case known && (exact || s.mark[i] != 0):
					ub = sc.total(i)
				case known: // not a candidate: ALS and popularity only
					ub = b.ALS + b.Popular*m.pop[i]
				}
				if ub+b.Interest+b.NewArrival < threshold {
					continue
				}
			}
			ms, kind, name := h.matchParts(it)
			if ms <= 0 || kind == "" {
				continue
			}
			r := row{i: -1, id: it.ID}
			if known {
				r.i = i
				if s.mark[i] == 0 { // not a candidate: its scratch scores are stale
					s.touch(i)
					if x != nil && !exact {
						s.als[i] = dot(x, m.row(i))
					}
				}
			}
			score(&r, it, ms, kind, name)
			if r.total >= threshold {
				add(&r)
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
				return m.because(h, s.knn[r.i].src)
			case pBoughtWith:
				return "bought_with:" + string(m.ids[s.comp[r.i].src])
			case pRegion:
				return "popular_in_region:" + req.Region
			case pPopular:
				return "popular"
			case pInterest:
				return r.why[0] + r.why[1]
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
	if h.bought(id) {
		return "because_you_bought:" + string(id)
	}
	return "similar_to:" + string(id)
}

// sourceOf finds the history item (or context item) whose factors are
// closest to item i, for the reason of an ALS score.
func (m *Model) sourceOf(s *scratch, h *history, i int32, hasCtx bool, ctx int32) (int32, bool) {
	if s.knn[i].top > 0 {
		return s.knn[i].src, true
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
