package recommend

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"heed/engine"
)

// Train reads events (only those the policy allows for training) and trains
// a Model. items seed the item index (an item without events gets a zero
// vector); events may name items not in items. It returns the first error
// of events, wrapped, or ctx.Err() if ctx ends first.
func Train(ctx context.Context, events iter.Seq2[engine.Event, error], items []engine.Item, opts Options) (*Model, error) {
	start := time.Now()
	opts = opts.withDefaults()
	progress := opts.Progress
	opts.Progress = nil
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	b := newBuilder(opts)
	for _, it := range items {
		b.item(it.ID)
	}
	for e, err := range events {
		if err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		if b.events++; b.events%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		b.add(e)
	}
	d := b.finish()

	m := &Model{
		opts:  opts,
		k:     opts.Factors,
		ids:   b.ids,
		index: b.itemIdx,
		users: slices.Clone(b.users),
	}
	slices.Sort(m.users)
	nu, ni, k := len(b.users), len(b.ids), opts.Factors

	// ALS: X (users) and Y (items), Y initialized from Seed.
	rng := rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15))
	x := make([]float64, nu*k)
	y := make([]float64, ni*k)
	for i := range y {
		y[i] = rng.NormFloat64() * 0.01
	}
	var spent time.Duration
	for it := 1; it <= opts.Iterations; it++ {
		t0 := time.Now()
		if err := solveSide(ctx, x, y, d.userPtr, d.userItem, d.userConf, k, opts.Lambda, opts.Workers); err != nil {
			return nil, err
		}
		if err := solveSide(ctx, y, x, d.itemPtr, d.itemUser, d.itemConf, k, opts.Lambda, opts.Workers); err != nil {
			return nil, err
		}
		took := time.Since(t0)
		spent += took
		if progress != nil {
			progress(it, opts.Iterations, took)
		}
	}
	m.y = y
	m.gram = make([]float64, k*k)
	gramOf(m.gram, y, ni, k)
	m.norm = make([]float64, ni)
	for i := range ni {
		m.norm[i] = math.Sqrt(dot(m.row(int32(i)), m.row(int32(i))))
	}

	if err := m.buildNeighbors(ctx, d); err != nil {
		return nil, err
	}
	m.repeat = d.repeat
	m.pop, m.popular = rankPop(d.pop, m.ids)
	m.regions = make(map[string]ranked, len(d.regionPop))
	for r, p := range d.regionPop {
		sc, order := rankPop(p, m.ids)
		rk := ranked{Items: order, Scores: make([]float64, len(order))}
		for j, i := range order {
			rk.Scores[j] = sc[i]
		}
		m.regions[r] = rk
	}
	m.initPools()
	m.stats = Stats{
		Users:        nu,
		Items:        ni,
		Events:       b.events,
		Interactions: len(d.userItem),
		Baskets:      len(b.baskets),
		Factors:      k,
		Iterations:   opts.Iterations,
		Took:         time.Since(start),
		TrainedAt:    time.Now(),
		DecayRef:     d.ref,
	}
	if opts.Iterations > 0 {
		m.stats.PerIteration = spent / time.Duration(opts.Iterations)
	}
	return m, nil
}

// rankPop scales p to best = 1 and returns it with the top maxRanked items
// with a positive score, best first, ties by item id.
func rankPop(p []float64, ids []engine.ItemID) ([]float64, []int32) {
	best := 0.0
	for _, v := range p {
		best = max(best, v)
	}
	sc := make([]float64, len(p))
	var order []int32
	for i, v := range p {
		if v > 0 {
			sc[i] = v / best
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := cmp.Compare(sc[b], sc[a]); c != 0 {
			return c
		}
		return strings.Compare(string(ids[a]), string(ids[b]))
	})
	if len(order) > maxRanked {
		order = slices.Clip(order[:maxRanked])
	}
	return sc, order
}

// pair accumulates one (user, item) pair. Weights are kept scaled by
// 2^((t−t0)/HalfLife) so the decay to the reference time, known only at the
// end, is one factor.
type pair struct {
	u, i       int32
	r          float64
	fav, unfav int64 // latest favorite and unfavorite, unix ns; 0: none
	orders     int32 // distinct orders that bought the item
	lastOrder  int32
}

type builder struct {
	opts    Options
	users   []engine.UserID
	userIdx map[engine.UserID]int32
	ids     []engine.ItemID
	itemIdx map[engine.ItemID]int32
	pairs   []pair
	pairIdx map[uint64]int32
	baskets [][]int32
	bScale  []float64 // decay scale of each basket's time
	bIdx    map[string]int32
	pop     []float64
	regions map[string][]float64
	events  int
	t0      int64
	newest  int64
	started bool
}

func newBuilder(opts Options) *builder {
	return &builder{
		opts:    opts,
		userIdx: make(map[engine.UserID]int32),
		itemIdx: make(map[engine.ItemID]int32),
		pairIdx: make(map[uint64]int32),
		bIdx:    make(map[string]int32),
		regions: make(map[string][]float64),
	}
}

func (b *builder) item(id engine.ItemID) int32 {
	i, ok := b.itemIdx[id]
	if !ok {
		i = int32(len(b.ids))
		b.itemIdx[id] = i
		b.ids = append(b.ids, id)
		b.pop = append(b.pop, 0)
	}
	return i
}

func (b *builder) user(id engine.UserID) int32 {
	u, ok := b.userIdx[id]
	if !ok {
		u = int32(len(b.users))
		b.userIdx[id] = u
		b.users = append(b.users, id)
	}
	return u
}

func (b *builder) pair(u, i int32) *pair {
	key := uint64(u)<<32 | uint64(uint32(i))
	p, ok := b.pairIdx[key]
	if !ok {
		p = int32(len(b.pairs))
		b.pairIdx[key] = p
		b.pairs = append(b.pairs, pair{u: u, i: i, lastOrder: -1})
	}
	return &b.pairs[p]
}

// scale returns 2^((t−t0)/HalfLife), or 1 without decay.
func (b *builder) scale(t int64) float64 {
	h := b.opts.HalfLife
	if h <= 0 {
		return 1
	}
	return math.Exp2(min(1000, max(-1000, float64(t-b.t0)/float64(h))))
}

func (b *builder) popAdd(i int32, region string, w float64) {
	b.pop[i] += w
	if region == "" {
		return
	}
	p := b.regions[region]
	for len(p) < len(b.ids) {
		p = append(p, 0)
	}
	p[i] += w
	b.regions[region] = p
}

func (b *builder) add(e engine.Event) {
	if e.User == "" {
		return
	}
	u := b.user(e.User)
	t := e.OccurredAt.UnixNano()
	if !b.started {
		b.t0, b.newest, b.started = t, t, true
	}
	b.newest = max(b.newest, t)
	w := b.opts.Weights[e.Type]
	switch e.Type {
	case engine.EventPurchase:
		key := e.Order
		if key == "" {
			key = e.ID
		}
		if key == "" {
			key = string(e.User) + "@" + e.OccurredAt.UTC().Format(time.RFC3339Nano)
		}
		bi, ok := b.bIdx[key]
		if !ok {
			bi = int32(len(b.baskets))
			b.bIdx[key] = bi
			b.baskets = append(b.baskets, nil)
			b.bScale = append(b.bScale, b.scale(t))
		}
		s := w * b.scale(t)
		for _, l := range e.Items {
			if l.Item == "" {
				continue
			}
			i := b.item(l.Item)
			p := b.pair(u, i)
			p.r += s // quantity-insensitive
			if p.lastOrder != bi {
				p.orders++
				p.lastOrder = bi
				b.baskets[bi] = append(b.baskets[bi], i)
				b.popAdd(i, e.Region, s)
			}
		}
	case engine.EventFavorite:
		if e.Item != "" {
			p := b.pair(u, b.item(e.Item))
			p.fav = max(p.fav, t)
		}
	case engine.EventUnfavorite:
		if e.Item != "" {
			p := b.pair(u, b.item(e.Item))
			p.unfav = max(p.unfav, t)
		}
	default: // view, cart, store visit with an item; search has none
		if e.Item != "" && w > 0 {
			i := b.item(e.Item)
			s := w * b.scale(t)
			b.pair(u, i).r += s
			b.popAdd(i, e.Region, s)
		}
	}
}

// data is the training input in CSR form, with the item statistics.
type data struct {
	userPtr   []int32
	userItem  []int32
	userConf  []float64
	itemPtr   []int32
	itemUser  []int32
	itemConf  []float64
	baskets   [][]int32 // deduplicated
	bWeight   []float64 // decayed to the reference time
	repeat    []float64
	pop       []float64
	regionPop map[string][]float64
	ref       time.Time
}

func (b *builder) finish() *data {
	nu, ni := len(b.users), len(b.ids)
	d := &data{repeat: make([]float64, ni), regionPop: make(map[string][]float64, len(b.regions))}
	ref := b.newest
	if !b.opts.Now.IsZero() {
		ref = b.opts.Now.UnixNano()
	}
	d.ref = time.Unix(0, ref).UTC()
	f := 1.0
	if b.opts.HalfLife > 0 {
		f = math.Exp2(min(1000, max(-1000, -float64(ref-b.t0)/float64(b.opts.HalfLife))))
	}
	wFav := b.opts.Weights[engine.EventFavorite]
	buyers := make([]int, ni)
	again := make([]int, ni)
	kept := b.pairs[:0:0]
	for _, p := range b.pairs {
		if p.fav > p.unfav && wFav > 0 { // a later unfavorite cancels it
			s := wFav * b.scale(p.fav)
			p.r += s
			b.pop[p.i] += s
		}
		if p.orders > 0 {
			buyers[p.i]++
			if p.orders > 1 {
				again[p.i]++
			}
		}
		if p.r > 0 {
			p.r *= f
			kept = append(kept, p)
		}
	}
	for i := range ni {
		if buyers[i] > 0 {
			d.repeat[i] = float64(again[i]) / float64(buyers[i]+1)
		}
	}
	d.pop = make([]float64, ni)
	for i, v := range b.pop {
		d.pop[i] = v * f
	}
	for r, p := range b.regions {
		q := make([]float64, ni)
		for i, v := range p {
			q[i] = v * f
		}
		d.regionPop[r] = q
	}
	slices.SortFunc(kept, func(a, b pair) int {
		if c := cmp.Compare(a.u, b.u); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	conf := func(r float64) float64 { return 1 + b.opts.Alpha*math.Log1p(r) }
	d.userPtr = make([]int32, nu+1)
	d.itemPtr = make([]int32, ni+1)
	d.userItem = make([]int32, len(kept))
	d.userConf = make([]float64, len(kept))
	for j, p := range kept {
		d.userPtr[p.u+1]++
		d.itemPtr[p.i+1]++
		d.userItem[j] = p.i
		d.userConf[j] = conf(p.r)
	}
	for u := range nu {
		d.userPtr[u+1] += d.userPtr[u]
	}
	for i := range ni {
		d.itemPtr[i+1] += d.itemPtr[i]
	}
	d.itemUser = make([]int32, len(kept))
	d.itemConf = make([]float64, len(kept))
	next := slices.Clone(d.itemPtr[:ni])
	for j, p := range kept {
		d.itemUser[next[p.i]] = p.u
		d.itemConf[next[p.i]] = d.userConf[j]
		next[p.i]++
	}
	d.baskets = make([][]int32, len(b.baskets))
	d.bWeight = make([]float64, len(b.baskets))
	for j, bk := range b.baskets {
		d.bWeight[j] = b.bScale[j] * f
		bk = slices.Clone(bk)
		slices.Sort(bk)
		d.baskets[j] = slices.Compact(bk)
	}
	return d
}
