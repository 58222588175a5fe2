package recommend

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"time"

	"heed/engine"
)

// A genShape sizes generated data with the shape of the Online Retail data:
// power-law item popularity, shoppers with power-law activity who stick to
// a few categories, multi-line baskets, regions, and besides purchases the
// views, carts, favorites and searches a web shop records.
type genShape struct {
	Users, Items, Interactions int
	Regions                    int
	Seed                       uint64
}

// A generator makes the catalog and each user's events, deterministically
// from the seed, without keeping every event in memory.
type generator struct {
	s        genShape
	cats     int
	catItems [][]int32 // items of each category, most popular first
	start    time.Time
	span     time.Duration
	perUser  float64 // mean interactions per user
}

func newGenerator(s genShape) *generator {
	g := &generator{s: s, cats: max(1, s.Items/100), start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), span: 365 * 24 * time.Hour}
	g.catItems = make([][]int32, g.cats)
	for i := range s.Items {
		// Item i has global popularity rank i; categories interleave ranks.
		c := g.category(i)
		g.catItems[c] = append(g.catItems[c], int32(i))
	}
	g.perUser = float64(s.Interactions) / float64(s.Users)
	return g
}

func (g *generator) category(i int) int { return int(uint64(i)*2654435761%uint64(g.cats)) % g.cats }

func genItemID(i int) engine.ItemID { return engine.ItemID(fmt.Sprintf("sku-%06d", i)) }
func genUserID(u int) engine.UserID { return engine.UserID(fmt.Sprintf("user-%07d", u)) }
func genRegion(r int) string        { return fmt.Sprintf("region-%02d", r) }

// items returns the catalog: 5% out of stock, 10% sold in one region only,
// 1% launched in the last month, 0.2% upcoming.
func (g *generator) items(now time.Time) []engine.Item {
	r := rand.New(rand.NewPCG(g.s.Seed, 1))
	out := make([]engine.Item, g.s.Items)
	for i := range out {
		c := g.category(i)
		it := engine.Item{
			ID: genItemID(i), Title: fmt.Sprintf("product %d kind%d", i, c), Category: fmt.Sprintf("cat-%d", c),
			Tags: []string{fmt.Sprintf("t%d", c%37), fmt.Sprintf("t%d", i%53)}, Price: 1 + float64(i%100), InStock: r.Float64() > 0.05,
		}
		if r.Float64() < 0.1 {
			it.Regions = []string{genRegion(r.IntN(g.s.Regions))}
		}
		switch x := r.Float64(); {
		case x < 0.01:
			it.LaunchAt = now.Add(-time.Duration(r.Float64() * float64(30*24*time.Hour)))
		case x < 0.012:
			it.LaunchAt = now.Add(time.Duration(r.Float64() * float64(60*24*time.Hour)))
		}
		out[i] = it
	}
	return out
}

// zipf draws a rank in [0, n) with P(r) ∝ 1/(r+10)^1.1.
func zipf(r *rand.Rand, n int) int {
	// Inverse transform on the continuous approximation.
	const s, v = 1.1, 10.0
	a := math.Pow(v, 1-s)
	b := math.Pow(v+float64(n), 1-s)
	x := math.Pow(a+(b-a)*r.Float64(), 1/(1-s)) - v
	return min(n-1, max(0, int(x)))
}

// user returns user u's events, oldest first: about perUser item
// interactions (power-law over users), 40% purchase lines in baskets of
// 1–30 lines, the rest views, carts, favorites; and a few searches.
func (g *generator) user(u int) []engine.Event {
	r := rand.New(rand.NewPCG(g.s.Seed, uint64(u)+2))
	id := genUserID(u)
	region := genRegion(zipf(r, g.s.Regions))
	// Activity: Pareto with mean perUser.
	n := int(g.perUser * 0.5 / math.Pow(1-r.Float64(), 1/2.0))
	n = max(1, min(n, 50*int(g.perUser)))
	favCats := []int{zipf(r, g.cats), zipf(r, g.cats), r.IntN(g.cats)}
	pick := func() int32 {
		if r.Float64() < 0.7 {
			items := g.catItems[favCats[r.IntN(len(favCats))]]
			if len(items) > 0 {
				return items[zipf(r, len(items))]
			}
		}
		return int32(zipf(r, g.s.Items))
	}
	t := g.start.Add(time.Duration(r.Float64() * float64(g.span) / 2))
	step := g.span / 2 / time.Duration(n+1)
	var evs []engine.Event
	order := 0
	for done := 0; done < n; {
		t = t.Add(time.Duration(r.Float64() * 2 * float64(step)))
		switch x := r.Float64(); {
		case x < 0.4:
			lines := min(n-done, 1+int(r.ExpFloat64()*6))
			e := engine.Event{Type: engine.EventPurchase, User: id, Region: region, OccurredAt: t, Order: fmt.Sprintf("%s-o%d", id, order)}
			order++
			for range lines {
				e.Items = append(e.Items, engine.LineItem{Item: genItemID(int(pick())), Quantity: 1 + r.IntN(6), Price: 2})
			}
			evs = append(evs, e)
			done += lines
		case x < 0.95:
			typ := engine.EventView
			if y := r.Float64(); y < 0.2 {
				typ = engine.EventCart
			} else if y < 0.27 {
				typ = engine.EventFavorite
			}
			evs = append(evs, engine.Event{Type: typ, User: id, Item: genItemID(int(pick())), Region: region, OccurredAt: t})
			done++
		default:
			evs = append(evs, engine.Event{Type: engine.EventSearch, User: id, Query: fmt.Sprintf("kind%d gift", favCats[0]), Region: region, OccurredAt: t})
		}
	}
	return evs
}

// events yields every user's events (user by user).
func (g *generator) events() iter.Seq2[engine.Event, error] {
	return func(yield func(engine.Event, error) bool) {
		for u := range g.s.Users {
			for _, e := range g.user(u) {
				if !yield(e, nil) {
					return
				}
			}
		}
	}
}
