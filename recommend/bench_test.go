package recommend

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"heed/data/onlineretail"
	"heed/engine"
)

// fullShape is the serving benchmark's size: 100k users, 50k items, 10M
// interactions.
var fullShape = genShape{Users: 100_000, Items: 50_000, Interactions: 10_000_000, Regions: 30, Seed: 7}

type servingEnv struct {
	model   *Model
	catalog *Catalog
	reqs    []engine.RecRequest
	histLen float64 // mean events per request
}

// serving builds, once, a model of the full shape with synthetic parameters
// (random factors, neighbours drawn within categories by popularity, Zipf
// popularity): what serving costs depends on these sizes, not on the values,
// and training at this size takes minutes. Requests carry generated
// histories.
var serving = sync.OnceValue(func() *servingEnv {
	g := newGenerator(fullShape)
	now := g.start.Add(g.span)
	opts := DefaultOptions().withDefaults()
	m := syntheticModel(g, opts)
	c := NewCatalog()
	c.Put(g.items(now)...)
	env := &servingEnv{model: m, catalog: c}
	total := 0
	for j := range 2000 {
		u := int(uint64(j) * 7919 % uint64(fullShape.Users))
		h := g.user(u)
		total += len(h)
		env.reqs = append(env.reqs, engine.RecRequest{
			Strategy: engine.StrategyForYou, Personalized: true, History: h, Region: h[0].Region,
			AvailableIn: h[0].Region, Now: now, Limit: 20,
			Interests: []engine.InterestTag{{Tag: "category:cat-3", Weight: 0.5}},
		})
	}
	env.histLen = float64(total) / float64(len(env.reqs))
	return env
})

func syntheticModel(g *generator, opts Options) *Model {
	n, k, K := g.s.Items, opts.Factors, opts.Neighbors
	r := rand.New(rand.NewPCG(g.s.Seed, 99))
	m := &Model{opts: opts, k: k, ids: make([]engine.ItemID, n), index: make(map[engine.ItemID]int32, n)}
	for i := range n {
		m.ids[i] = genItemID(i)
		m.index[m.ids[i]] = int32(i)
	}
	m.y = make([]float64, n*k)
	for i := range m.y {
		m.y[i] = r.NormFloat64() * 0.1
	}
	m.gram = make([]float64, k*k)
	gramOf(m.gram, m.y, n, k)
	m.norm = make([]float64, n)
	m.pop = make([]float64, n)
	m.repeat = make([]float64, n)
	for i := range n {
		m.norm[i] = math.Sqrt(dot(m.row(int32(i)), m.row(int32(i))))
		m.pop[i] = math.Pow(10/float64(i+10), 1.1)
		m.repeat[i] = r.Float64() / 2
	}
	for i := range min(maxRanked, n) {
		m.popular = append(m.popular, int32(i))
	}
	m.regions = make(map[string]ranked)
	for reg := range g.s.Regions {
		rk := ranked{Items: slices.Clone(m.popular)}
		r.Shuffle(len(rk.Items)/2, func(a, b int) { rk.Items[a], rk.Items[b] = rk.Items[b], rk.Items[a] })
		for j := range rk.Items {
			rk.Scores = append(rk.Scores, 1/float64(j+1))
		}
		m.regions[genRegion(reg)] = rk
	}
	nb := func() neighbors {
		l := make([][]cand, n)
		for i := range n {
			items := g.catItems[g.category(i)]
			for j := range K {
				o := items[zipf(r, len(items))]
				if r.Float64() < 0.2 {
					o = int32(zipf(r, n))
				}
				if o != int32(i) {
					l[i] = append(l[i], cand{o, 1 / float64(j+2)})
				}
			}
		}
		return toNeighbors(l)
	}
	m.similar, m.complement = nb(), nb()
	for u := range g.s.Users {
		m.users = append(m.users, genUserID(u))
	}
	slices.Sort(m.users)
	m.initPools()
	return m
}

// withExact returns a copy of m sharing its parameters, scoring every item
// exactly up to exactMax catalog items (negative: always).
func (m *Model) withExact(exactMax int) *Model {
	c := &Model{opts: m.opts, k: m.k, ids: m.ids, index: m.index, y: m.y, gram: m.gram, norm: m.norm,
		pop: m.pop, popular: m.popular, regions: m.regions, similar: m.similar, complement: m.complement,
		repeat: m.repeat, users: m.users, stats: m.stats}
	c.opts.ExactScoringMax = exactMax
	c.initPools()
	return c
}

var exactP50 time.Duration

// BenchmarkForYou measures for_you end to end in this package (history
// digest, fold-in, scoring, reranking, filters) on 100k users × 50k items ×
// 10M interactions, scoring every item ("exact", 50k × 64 multiply-adds)
// or only the candidates ("candidates": neighbours of the history, popular,
// regional and new items). Run exact first for the speedup metric.
func BenchmarkForYou(b *testing.B) {
	env := serving()
	b.Logf("50k items, k=%d, %d requests, %.0f history events per request", env.model.k, len(env.reqs), env.histLen)
	for _, mode := range []struct {
		name  string
		exact int
	}{{"exact", -1}, {"candidates", 20_000}} {
		b.Run(mode.name, func(b *testing.B) {
			m := env.model.withExact(mode.exact)
			lat := make([]time.Duration, 0, 4096)
			i := 0
			for b.Loop() {
				req := env.reqs[i%len(env.reqs)]
				i++
				t := time.Now()
				if len(m.Recommend(env.catalog, req)) == 0 {
					b.Fatal("empty list")
				}
				lat = append(lat, time.Since(t))
			}
			p50, p99 := percentiles(lat)
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			if mode.exact < 0 {
				exactP50 = p50
			} else if exactP50 > 0 {
				b.ReportMetric(float64(exactP50)/float64(p50), "speedup-p50")
			}
		})
	}
}

func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
}

// BenchmarkTrainGenerated trains on generated data of the full shape's
// proportions at a tenth of the users and interactions.
func BenchmarkTrainGenerated(b *testing.B) {
	shape := genShape{Users: 10_000, Items: 5_000, Interactions: 1_000_000, Regions: 30, Seed: 7}
	g := newGenerator(shape)
	items := g.items(g.start.Add(g.span))
	benchTrain(b, func() iteratorOfEvents { return g.events() }, items)
}

// BenchmarkTrainOnlineRetail trains on all of the cleaned Online Retail
// purchases (396k lines, 18.4k invoices).
func BenchmarkTrainOnlineRetail(b *testing.B) {
	d, err := onlineretail.Load()
	if err != nil {
		b.Skipf("Online Retail data: %v", err)
	}
	evs, items := d.Events(), d.Items()
	benchTrain(b, func() iteratorOfEvents {
		return func(yield func(engine.Event, error) bool) {
			for _, e := range evs {
				if !yield(e, nil) {
					return
				}
			}
		}
	}, items)
}

type iteratorOfEvents = func(yield func(engine.Event, error) bool)

func benchTrain(b *testing.B, events func() iteratorOfEvents, items []engine.Item) {
	var st Stats
	for b.Loop() {
		m, err := Train(context.Background(), events(), items, DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		st = m.Stats()
	}
	b.ReportMetric(float64(st.PerIteration.Milliseconds()), "ms/iteration")
	b.ReportMetric(st.Took.Seconds(), "s/train")
	b.Logf("%s", fmt.Sprintf("users %d, items %d, events %d, interactions %d, baskets %d, %d iterations of %s, total %s",
		st.Users, st.Items, st.Events, st.Interactions, st.Baskets, st.Iterations, st.PerIteration, st.Took))
}

type retailEnv struct {
	model   *Model
	catalog *Catalog
	reqs    []engine.RecRequest
}

// retail trains, once, a model on all of the Online Retail purchases with
// DefaultOptions, and builds one for_you request per customer: the last
// HistoryLimit events, the country as region, at a day after the last
// purchase.
var retail = sync.OnceValues(func() (*retailEnv, error) {
	d, err := onlineretail.Load()
	if err != nil {
		return nil, err
	}
	evs, items := d.Events(), d.Items()
	m, err := Train(context.Background(), func(yield func(engine.Event, error) bool) {
		for _, e := range evs {
			if !yield(e, nil) {
				return
			}
		}
	}, items, DefaultOptions())
	if err != nil {
		return nil, err
	}
	c := NewCatalog()
	c.Put(items...)
	byUser := map[engine.UserID][]engine.Event{}
	var users []engine.UserID
	for _, e := range evs {
		if _, ok := byUser[e.User]; !ok {
			users = append(users, e.User)
		}
		byUser[e.User] = append(byUser[e.User], e)
	}
	env := &retailEnv{model: m, catalog: c}
	for _, u := range users {
		h := byUser[u]
		h = h[max(0, len(h)-engine.HistoryLimit):]
		env.reqs = append(env.reqs, engine.RecRequest{
			Strategy: engine.StrategyForYou, Personalized: true, History: h, Region: h[0].Region,
			Now: h[len(h)-1].OccurredAt.Add(24 * time.Hour), Limit: 10,
		})
	}
	return env, nil
})

// BenchmarkRecommendRetail measures each strategy on the Online Retail model
// (3.7k items: for_you scores candidates from the whole history, and in
// for_you_exact every item), cycling through its customers.
func BenchmarkRecommendRetail(b *testing.B) {
	env, err := retail()
	if err != nil {
		b.Skipf("Online Retail data: %v", err)
	}
	for _, s := range []engine.Strategy{engine.StrategyForYou, engine.StrategyComplementary,
		engine.StrategySimilar, engine.StrategyRegion, engine.StrategyBuyAgain, engine.StrategyNewArrivals} {
		b.Run(string(s), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req := env.reqs[i%len(env.reqs)]
				i++
				req.Strategy = s
				if s == engine.StrategyComplementary || s == engine.StrategySimilar {
					req.Item = req.History[len(req.History)-1].ItemIDs()[0]
				}
				env.model.Recommend(env.catalog, req)
			}
		})
	}
	b.Run("for_you_exact", func(b *testing.B) { // scoring every item, as up to 20k items before
		b.ReportAllocs()
		m := env.model.withExact(-1)
		i := 0
		for b.Loop() {
			m.Recommend(env.catalog, env.reqs[i%len(env.reqs)])
			i++
		}
	})
}
