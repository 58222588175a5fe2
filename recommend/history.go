package recommend

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"heed/engine"
)

// Bounds on what one request uses of its history: items folded in, items
// whose neighbours become candidates, search words.
const (
	maxFoldIn   = 500
	maxSources  = 40
	maxWords    = 5
	maxLaunches = 300
)

// A history is what a request's History (and interests) say about the
// shopper, computed per request and never kept.
type history struct {
	now     time.Time
	items   []int32           // model items the shopper engaged with, by weight
	weight  []float64         // decayed weights of items
	carts   map[int32]float64 // purchases and carts, decayed (for bought_with)
	bought  map[engine.ItemID]bool
	orders  map[engine.ItemID]int       // distinct purchases per item
	lastBuy map[engine.ItemID]time.Time // latest purchase per item
	tags    map[string]float64          // interest tags, best = 1; never a blocked one
	cats    map[string]float64          // tags split: "category:x" as cats["x"]
	labels  map[string]float64          // and "tag:y" as labels["y"]
	words   map[string]float64          // search words, best = 1
	engaged []engine.ItemID             // every item of the history, for content
	blocked map[string]bool             // tags never matched nor named
}

// personal reports whether the history says anything at all.
func (h *history) personal() bool {
	return len(h.items) > 0 || len(h.tags) > 0 || len(h.words) > 0 || len(h.bought) > 0
}

func decay(age, half time.Duration) float64 {
	if half <= 0 || age <= 0 {
		return 1
	}
	return math.Exp2(-float64(age) / float64(half))
}

// readHistory digests req. m may be nil; c gives the tags of history items.
func readHistory(m *Model, c *Catalog, req engine.RecRequest) *history {
	h := &history{
		now:     req.Now,
		carts:   map[int32]float64{},
		bought:  map[engine.ItemID]bool{},
		orders:  map[engine.ItemID]int{},
		lastBuy: map[engine.ItemID]time.Time{},
		tags:    map[string]float64{},
		words:   map[string]float64{},
	}
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
	var weights map[engine.EventType]float64
	half := time.Duration(0)
	if m != nil {
		weights, half = m.opts.Weights, m.opts.Blend.HalfLife
	} else {
		d := DefaultOptions()
		weights, half = d.Weights, d.Blend.HalfLife
	}
	blocked := make(map[string]bool, len(req.Blocked))
	for _, t := range req.Blocked {
		blocked[t] = true
	}
	h.blocked = blocked
	w := map[engine.ItemID]float64{}
	type fav struct{ fav, unfav time.Time }
	favs := map[engine.ItemID]*fav{}
	var order []engine.ItemID
	addW := func(id engine.ItemID, v float64) {
		if _, ok := w[id]; !ok {
			order = append(order, id)
		}
		w[id] += v
	}
	for _, e := range req.History {
		d := decay(h.now.Sub(e.OccurredAt), half)
		switch e.Type {
		case engine.EventPurchase:
			for j, l := range e.Items {
				if l.Item == "" || slices.ContainsFunc(e.Items[:j], func(p engine.LineItem) bool { return p.Item == l.Item }) {
					continue
				}
				addW(l.Item, weights[e.Type]*d)
				h.bought[l.Item] = true
				h.orders[l.Item]++
				if e.OccurredAt.After(h.lastBuy[l.Item]) {
					h.lastBuy[l.Item] = e.OccurredAt
				}
			}
		case engine.EventFavorite, engine.EventUnfavorite:
			if e.Item == "" {
				continue
			}
			f := favs[e.Item]
			if f == nil {
				f = &fav{}
				favs[e.Item] = f
			}
			if e.Type == engine.EventFavorite && e.OccurredAt.After(f.fav) {
				f.fav = e.OccurredAt
			}
			if e.Type == engine.EventUnfavorite && !e.OccurredAt.Before(f.unfav) {
				f.unfav = e.OccurredAt
			}
		case engine.EventSearch:
			for _, t := range words(e.Query) {
				h.words[t] += d
			}
		default:
			if e.Item != "" {
				addW(e.Item, weights[e.Type]*d)
			}
		}
	}
	for id, f := range favs {
		if f.fav.After(f.unfav) {
			addW(id, weights[engine.EventFavorite]*decay(h.now.Sub(f.fav), half))
		}
	}
	// Engaged items, their tags, and the model's view of them.
	slices.Sort(order) // favorites were added in map order
	h.engaged = order
	c.lookup(order, func(_ int, it engine.Item, ok bool) bool {
		if ok {
			for _, t := range it.InterestTags() {
				h.tags[t] += w[it.ID]
			}
		}
		return true
	})
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
	h.cats, h.labels = map[string]float64{}, map[string]float64{}
	for t, v := range h.tags {
		if c, ok := strings.CutPrefix(t, "category:"); ok {
			h.cats[c] = v
		} else if l, ok := strings.CutPrefix(t, "tag:"); ok {
			h.labels[l] = v
		}
	}
	if m != nil {
		for _, id := range order {
			i, ok := m.index[id]
			if !ok || w[id] <= 0 {
				continue
			}
			h.items = append(h.items, i)
			h.weight = append(h.weight, w[id])
		}
		// Heaviest (most recent, most engaged) first, at most maxFoldIn.
		perm := make([]int, len(h.items))
		for j := range perm {
			perm[j] = j
		}
		slices.SortFunc(perm, func(a, b int) int {
			if c := cmp.Compare(h.weight[b], h.weight[a]); c != 0 {
				return c
			}
			return cmp.Compare(h.items[a], h.items[b])
		})
		perm = perm[:min(len(perm), maxFoldIn)]
		items, weight := make([]int32, len(perm)), make([]float64, len(perm))
		for j, p := range perm {
			items[j], weight[j] = h.items[p], h.weight[p]
		}
		h.items, h.weight = items, weight
	}
	for _, e := range req.History {
		if m == nil || (e.Type != engine.EventPurchase && e.Type != engine.EventCart) {
			continue
		}
		d := decay(h.now.Sub(e.OccurredAt), half)
		for _, id := range e.ItemIDs() {
			if i, ok := m.index[id]; ok {
				h.carts[i] += weights[e.Type] * d
			}
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
func (h *history) match(it engine.Item) (score float64, reason string) {
	best, kind, name := 0.0, "", ""
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
	for w, v := range h.words {
		if containsFold(it.Title, w) {
			score += 0.5 * v
			if 0.5*v > best || (0.5*v == best && kind == "matches_search:" && w < name) {
				best, kind, name = 0.5*v, "matches_search:", w
			}
		}
	}
	if kind == "" {
		return 0, ""
	}
	return score, kind + name
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
// one k×k solve with YᵀY and the items' confidences. It returns nil if no
// history item is known to the model.
func (m *Model) foldIn(h *history) []float64 {
	if len(h.items) == 0 {
		return nil
	}
	s := m.solvers.Get().(*solver)
	defer m.solvers.Put(s)
	conf := make([]float64, len(h.weight))
	for j, w := range h.weight {
		conf[j] = 1 + m.opts.Alpha*math.Log1p(w)
	}
	x := make([]float64, m.k)
	s.solve(x, m.gram, m.opts.Lambda, m.y, h.items, conf)
	return x
}

// pools holds the per-request scratch space of a Model.
type pools struct {
	solvers sync.Pool // *solver
	scratch sync.Pool // *scratch
}

func (m *Model) initPools() {
	k, n := m.k, len(m.ids)
	m.solvers.New = func() any { return newSolver(k) }
	m.scratch.New = func() any { return newScratch(n) }
}
