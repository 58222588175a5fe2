package recommend

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"heed/engine"
)

// Bounds on what one request uses of its history: items folded in, items
// whose neighbours become candidates (maxHistorySources when candidates
// come from the whole history, maxSources when they are bounded), search
// words.
//
// maxHistorySources was chosen on the validation split (for_you NDCG@10
// 0.0989 with 100 sources, 0.0988 with no bound, 0.0980 with 50): the
// neighbours of the lightest items of long histories add work, not quality.
const (
	maxFoldIn         = 500
	maxHistorySources = 100
	maxSources        = 40
	maxWords          = 5
	maxLaunches       = 300
)

// A history is what a request's History (and interests) say about the
// shopper, computed per request and never kept (a Model reuses the space:
// see releaseHistory).
type history struct {
	now     time.Time
	items   []int32                 // model items the shopper engaged with, by weight
	weight  []float64               // decayed weights of items
	carts   []cand                  // model items purchased or carted, decayed sum (for bought_with), by index
	index   map[engine.ItemID]int32 // the model's; nil without a model
	slot    []int32                 // per model item, 1 + its place in seen (0: not seen)
	byID    map[engine.ItemID]int32 // the place in seen of items not in index
	seen    []seenItem              // every item of the history, in order of first sight
	tags    map[string]float64      // interest tags, best = 1; never a blocked one
	cats    map[string]float64      // tags split: "category:x" as cats["x"]
	labels  map[string]float64      // and "tag:y" as labels["y"]
	words   map[string]float64      // search words, best = 1
	sorted  []string                // the keys of words, sorted: matches add them in one order
	blocked map[string]bool         // tags never matched nor named

	order    []int32 // scratch space of readHistory
	unknown  []int32
	byWeight []cand
}

// A seenItem is what the history says about one item.
type seenItem struct {
	id        engine.ItemID
	i         int32   // model index, -1 if unknown
	w         float64 // decayed sum of the event weights
	engaged   bool    // w was added to (favorites only count if not withdrawn)
	cart      float64 // decayed sum of the weights of purchase lines and carts
	carted    bool
	orders    int       // distinct purchases
	lastBuy   time.Time // latest purchase
	lastEvent int       // 1 + the last purchase event that counted it
	fav       bool      // favorited at some time
	favAt     time.Time // latest favorite
	unfavAt   time.Time // latest unfavorite
}

// bought reports whether the history shows id bought.
func (h *history) bought(id engine.ItemID) bool {
	j, ok := h.place(id)
	return ok && h.seen[j].orders > 0
}

// boughtAt reports whether the history shows model item i bought.
func (h *history) boughtAt(i int32) bool {
	if int(i) >= len(h.slot) {
		return false
	}
	j := h.slot[i] - 1
	return j >= 0 && h.seen[j].orders > 0
}

// place returns the place of id in h.seen.
func (h *history) place(id engine.ItemID) (int32, bool) {
	if i, known := h.index[id]; known {
		j := h.slot[i] - 1
		return j, j >= 0
	}
	j, ok := h.byID[id]
	return j, ok
}

func decay(age, half time.Duration) float64 {
	if half <= 0 || age <= 0 {
		return 1
	}
	return math.Exp2(-float64(age) / float64(half))
}

// newHistory returns the history of req without its events and interests:
// its time and blocked tags only.
func newHistory(req engine.RecRequest) *history {
	h := &history{blocked: make(map[string]bool, len(req.Blocked))}
	h.start(req)
	return h
}

// start sets the time and blocked tags of an empty h for req.
func (h *history) start(req engine.RecRequest) {
	h.now = req.Now
	if h.now.IsZero() {
		for _, e := range req.History {
			if e.OccurredAt.After(h.now) {
				h.now = e.OccurredAt
			}
		}
		if h.now.IsZero() {
			h.now = time.Now()
		}
	}
	for _, t := range req.Blocked {
		h.blocked[t] = true
	}
}

// readPurchases reads of req only what its purchases bought, for lists
// that leave that out and use nothing else of the history (region): a
// history whose seen items are the purchased ones, with their orders and
// latest purchase; no weights, tags, words, carts or fold-in items. It is
// the model's, to give back with releaseHistory.
func readPurchases(m *Model, req engine.RecRequest) *history {
	h := m.histories.Get().(*history) // empty: see releaseHistory
	h.start(req)
	for n, e := range req.History {
		if e.Type != engine.EventPurchase {
			continue
		}
		for _, l := range e.Items {
			if l.Item == "" {
				continue
			}
			var j int32
			if i, known := h.index[l.Item]; known {
				if j = h.slot[i] - 1; j < 0 {
					j = int32(len(h.seen))
					h.slot[i] = j + 1
					h.seen = append(h.seen, seenItem{id: l.Item, i: i})
				}
			} else {
				var ok bool
				if j, ok = h.byID[l.Item]; !ok {
					j = int32(len(h.seen))
					h.byID[l.Item] = j
					h.seen = append(h.seen, seenItem{id: l.Item, i: -1})
				}
			}
			s := &h.seen[j]
			if s.lastEvent == n+1 {
				continue // the item's second line in this purchase
			}
			s.lastEvent = n + 1
			s.orders++
			if e.OccurredAt.After(s.lastBuy) {
				s.lastBuy = e.OccurredAt
			}
		}
	}
	return h
}

// readHistory digests req. m may be nil; c gives the tags of history items.
func readHistory(m *Model, c *Catalog, req engine.RecRequest) *history {
	lines := 0 // a bound on the distinct items, for sizing
	for _, e := range req.History {
		lines += max(1, len(e.Items))
	}
	lines = min(lines, 1024)
	var h *history
	if m != nil {
		h = m.histories.Get().(*history) // empty: see releaseHistory
		h.start(req)
	} else {
		h = newHistory(req)
		h.byID = make(map[engine.ItemID]int32, lines)
		h.seen = make([]seenItem, 0, lines)
		h.tags = make(map[string]float64, 64)
		h.words = map[string]float64{}
		h.cats, h.labels = map[string]float64{}, map[string]float64{}
	}
	var weights map[engine.EventType]float64
	half := time.Duration(0)
	if m != nil {
		weights, half = m.opts.Weights, m.opts.Blend.HalfLife
	} else {
		d := DefaultOptions()
		weights, half = d.Weights, d.Blend.HalfLife
	}
	blocked := h.blocked
	item := func(id engine.ItemID) *seenItem {
		if i, known := h.index[id]; known {
			j := h.slot[i] - 1
			if j < 0 {
				j = int32(len(h.seen))
				h.slot[i] = j + 1
				h.seen = append(h.seen, seenItem{id: id, i: i})
			}
			return &h.seen[j]
		}
		j, ok := h.byID[id]
		if !ok {
			j = int32(len(h.seen))
			h.byID[id] = j
			h.seen = append(h.seen, seenItem{id: id, i: -1})
		}
		return &h.seen[j]
	}
	addW := func(s *seenItem, v float64) {
		s.engaged = true
		s.w += v
	}
	wPurchase, wCart := weights[engine.EventPurchase], weights[engine.EventCart]
	for n, e := range req.History {
		d := decay(h.now.Sub(e.OccurredAt), half)
		switch e.Type {
		case engine.EventPurchase:
			for _, l := range e.Items {
				if l.Item == "" {
					continue
				}
				s := item(l.Item)
				s.cart += wPurchase * d // every line counts for bought_with
				s.carted = true
				if s.lastEvent == n+1 {
					continue // the item's second line in this purchase
				}
				s.lastEvent = n + 1
				addW(s, wPurchase*d)
				s.orders++
				if e.OccurredAt.After(s.lastBuy) {
					s.lastBuy = e.OccurredAt
				}
			}
		case engine.EventFavorite, engine.EventUnfavorite:
			if e.Item == "" {
				continue
			}
			s := item(e.Item)
			if e.Type == engine.EventFavorite && e.OccurredAt.After(s.favAt) {
				s.favAt = e.OccurredAt
			}
			if e.Type == engine.EventUnfavorite && !e.OccurredAt.Before(s.unfavAt) {
				s.unfavAt = e.OccurredAt
			}
			s.fav = true
		case engine.EventSearch:
			for _, t := range words(e.Query) {
				h.words[t] += d
			}
		default:
			if e.Item != "" {
				s := item(e.Item)
				addW(s, weights[e.Type]*d)
				if e.Type == engine.EventCart {
					s.cart += wCart * d
					s.carted = true
				}
			}
		}
	}
	// Engaged items in a fixed order, their tags, and the model's view of them.
	order, unknown := h.order[:0], h.unknown[:0] // model indexes, places in seen
	for j := range h.seen {
		s := &h.seen[j]
		if s.fav && s.favAt.After(s.unfavAt) {
			addW(s, weights[engine.EventFavorite]*decay(h.now.Sub(s.favAt), half))
		}
		switch {
		case s.engaged && s.i >= 0:
			order = append(order, s.i)
		case s.engaged:
			unknown = append(unknown, int32(j))
		}
	}
	// Model items by index (cheaper than by id, and as independent of the
	// order of the events), then the others by id.
	slices.Sort(order)
	for n, i := range order {
		order[n] = h.slot[i] - 1
	}
	slices.SortFunc(unknown, func(a, b int32) int { return strings.Compare(string(h.seen[a].id), string(h.seen[b].id)) })
	order = append(order, unknown...)
	h.order, h.unknown = order, unknown
	var slot []int32
	if m != nil {
		slot = m.view(c).slot
	}
	c.mu.RLock()
	for _, j := range order {
		s := &h.seen[j]
		k := int32(-1)
		if s.i >= 0 {
			k = slot[s.i]
		} else {
			k = c.slotOf(s.id)
		}
		if k >= 0 {
			for _, t := range c.rows[k].interests {
				h.tags[t] += s.w
			}
		}
	}
	c.mu.RUnlock()
	for _, t := range req.Interests {
		h.tags[t.Tag] += max(0, t.Weight)
	}
	for t := range h.tags {
		if blocked[t] || h.tags[t] <= 0 {
			delete(h.tags, t)
		}
	}
	scaleToOne(h.tags)
	keepTop(h.words, maxWords)
	scaleToOne(h.words)
	h.sorted = slices.AppendSeq(h.sorted[:0], maps.Keys(h.words))
	slices.Sort(h.sorted)
	for t, v := range h.tags {
		if c, ok := strings.CutPrefix(t, "category:"); ok {
			h.cats[c] = v
		} else if l, ok := strings.CutPrefix(t, "tag:"); ok {
			h.labels[l] = v
		}
	}
	if m == nil {
		return h
	}
	// Heaviest (most recent, most engaged) first, at most maxFoldIn.
	byWeight := h.byWeight[:0]
	for _, j := range order {
		if s := &h.seen[j]; s.i >= 0 && s.w > 0 {
			byWeight = append(byWeight, cand{s.i, s.w})
		}
	}
	slices.SortFunc(byWeight, byScore)
	h.byWeight = byWeight
	for _, c := range byWeight[:min(len(byWeight), maxFoldIn)] {
		h.items = append(h.items, c.i)
		h.weight = append(h.weight, c.s)
	}
	for _, s := range h.seen {
		if s.carted && s.i >= 0 {
			h.carts = append(h.carts, cand{s.i, s.cart})
		}
	}
	return h
}

// keepTop keeps the n largest values of m (ties by key).
func keepTop(m map[string]float64, n int) {
	if len(m) <= n {
		return
	}
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys[n:] {
		delete(m, k)
	}
}

func scaleToOne(m map[string]float64) {
	best := 0.0
	for _, v := range m {
		best = max(best, v)
	}
	for k, v := range m {
		m[k] = v / best
	}
}

// words splits text into lower-case words of three letters or more.
func words(s string) []string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	out := f[:0]
	for _, w := range f {
		if len([]rune(w)) >= 3 {
			out = append(out, w)
		}
	}
	return out
}

// matches reports whether match can find anything.
func (h *history) matches() bool { return len(h.cats) > 0 || len(h.labels) > 0 || len(h.words) > 0 }

// match scores how well an item fits the shopper's tags and search words,
// with the best matching tag or word for the reason. It allocates only for
// the reason.
func (h *history) match(it *engine.Item) (score float64, reason string) {
	score, kind, name := h.matchParts(it)
	if kind == "" {
		return 0, ""
	}
	return score, kind + name
}

// matchParts is match with the reason in two parts, kind + name, so that
// a caller joins them only for the items it keeps. kind is empty if
// nothing matches.
func (h *history) matchParts(it *engine.Item) (score float64, kind, name string) {
	best := 0.0
	if v := h.cats[it.Category]; v > 0 && it.Category != "" {
		score, best, kind, name = v, v, "matches_interest:category:", it.Category
	}
	for _, t := range it.Tags {
		if v := h.labels[t]; v > 0 {
			score += v
			if v > best {
				best, kind, name = v, "matches_interest:tag:", t
			}
		}
	}
	for _, w := range h.sorted {
		if v := h.words[w]; containsFold(it.Title, w) {
			score += 0.5 * v
			if 0.5*v > best || (0.5*v == best && kind == "matches_search:" && w < name) {
				best, kind, name = 0.5*v, "matches_search:", w
			}
		}
	}
	if kind == "" {
		return 0, "", ""
	}
	return score, kind, name
}

// containsFold reports whether s contains the word w (lower case),
// ignoring case.
func containsFold(s, w string) bool {
	if w == "" {
		return true
	}
	c := w[0]
	for i := 0; i+len(w) <= len(s); i++ {
		b := s[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if (b == c || b >= 0x80 || c >= 0x80) && strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// foldIn returns the shopper's factor vector from the history items alone:
// one k×k solve with YᵀY and the items' confidences, in s's space. It
// returns nil if no history item is known to the model.
func (m *Model) foldIn(h *history, s *scratch) []float64 {
	if len(h.items) == 0 {
		return nil
	}
	sv := m.solvers.Get().(*solver)
	defer m.solvers.Put(sv)
	conf := s.conf[:0]
	for _, w := range h.weight {
		conf = append(conf, 1+m.opts.Alpha*math.Log1p(w))
	}
	s.conf = conf
	sv.foldIn(s.x, m.gram, m.opts.Lambda, m.y, h.items, conf)
	return s.x
}

// pools holds the per-request scratch space of a Model.
type pools struct {
	solvers   sync.Pool // *solver
	scratch   sync.Pool // *scratch
	histories sync.Pool // *history, empty
	views     atomic.Pointer[catalogView]
}

func (m *Model) initPools() {
	m.historyMax = wholeHistoryMax
	k, n := m.k, len(m.ids)
	m.solvers.New = func() any { return newSolver(k) }
	m.scratch.New = func() any { return newScratch(n, k) }
	m.histories.New = func() any {
		return &history{index: m.index, slot: make([]int32, n), byID: map[engine.ItemID]int32{},
			tags: map[string]float64{}, words: map[string]float64{}, cats: map[string]float64{},
			labels: map[string]float64{}, blocked: map[string]bool{}}
	}
}

// releaseHistory empties h, read by readHistory for m, and keeps it for
// another request. h must not be used after.
func (m *Model) releaseHistory(h *history) {
	if m == nil || h.slot == nil {
		return
	}
	for _, s := range h.seen {
		if s.i >= 0 {
			h.slot[s.i] = 0
		}
	}
	clear(h.seen) // let go of the request's ids
	h.seen = h.seen[:0]
	h.items, h.weight, h.carts = h.items[:0], h.weight[:0], h.carts[:0]
	// Iterating over a map costs its capacity: let go of those grown large.
	for _, mp := range []*map[string]float64{&h.tags, &h.cats, &h.labels, &h.words} {
		if len(*mp) > 64 {
			*mp = make(map[string]float64, 64)
		} else {
			clear(*mp)
		}
	}
	if len(h.byID) > 64 {
		h.byID = map[engine.ItemID]int32{}
	} else {
		clear(h.byID)
	}
	clear(h.blocked)
	clear(h.sorted)
	h.sorted = h.sorted[:0]
	m.histories.Put(h)
}
