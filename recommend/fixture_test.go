package recommend_test

import (
	"context"
	"fmt"
	"iter"
	"testing"
	"time"

	"heed/engine"
	"heed/recommend"
)

// The fixture is a small shop: 15 kitchen shoppers buy a mug with a saucer,
// then a teapot with a spoon; 15 lighting shoppers buy a lamp with a shade,
// then a bulb with a lantern (sold in the north only). Every basket has a
// bag, the best-seller, and everyone buys bags again. A few kitchen
// shoppers buy a kettle (now out of stock) with a mug.
var (
	t0  = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	now = t0.Add(90 * 24 * time.Hour)
)

func day(d int) time.Time { return t0.Add(time.Duration(d) * 24 * time.Hour) }

func fixtureItems() []engine.Item {
	item := func(id, title, cat string, tags ...string) engine.Item {
		return engine.Item{ID: engine.ItemID(id), Title: title, Category: cat, Tags: tags, Price: 10, InStock: true}
	}
	lantern := item("lantern", "Paper lantern", "lighting", "paper")
	lantern.Regions = []string{"north"}
	kettle := item("kettle", "Steel kettle", "kitchen", "steel")
	kettle.InStock = false
	neon := item("neon", "Neon sign", "lighting", "neon")
	neon.LaunchAt = now.Add(-5 * 24 * time.Hour)
	glow := item("glowbox", "Glow box", "lighting", "neon")
	glow.LaunchAt = now.Add(10 * 24 * time.Hour)
	glow.InStock = false
	return []engine.Item{
		item("mug", "Ceramic mug", "kitchen", "ceramic"),
		item("saucer", "Ceramic saucer", "kitchen", "ceramic"),
		item("teapot", "Ceramic teapot", "kitchen", "ceramic"),
		item("spoon", "Tea spoon", "kitchen", "steel"),
		kettle,
		item("lamp", "Desk lamp", "lighting", "metal"),
		item("shade", "Lamp shade", "lighting", "paper"),
		item("bulb", "Warm bulb", "lighting", "glass"),
		lantern,
		item("bag", "Shopping bag", "misc"),
		neon, glow,
	}
}

func purchase(u engine.UserID, order string, at time.Time, region string, ids ...string) engine.Event {
	e := engine.Event{Type: engine.EventPurchase, User: u, Order: order, Region: region, OccurredAt: at}
	for _, id := range ids {
		e.Items = append(e.Items, engine.LineItem{Item: engine.ItemID(id), Quantity: 1, Price: 10})
	}
	return e
}

func event(typ engine.EventType, u engine.UserID, item string, at time.Time) engine.Event {
	return engine.Event{Type: typ, User: u, Item: engine.ItemID(item), OccurredAt: at}
}

func user(n int) engine.UserID { return engine.UserID(fmt.Sprintf("u%02d", n)) }

func fixtureEvents() []engine.Event {
	var evs []engine.Event
	for n := range 30 {
		u := user(n)
		region := "south"
		if n%2 == 0 {
			region = "north"
		}
		o := func(k int) string { return fmt.Sprintf("o-%d-%d", n, k) }
		if n < 15 {
			evs = append(evs,
				purchase(u, o(1), day(n), region, "mug", "saucer", "bag"),
				event(engine.EventView, u, "teapot", day(n+20)),
				purchase(u, o(2), day(n+30), region, "teapot", "spoon", "bag"))
			if n%3 == 0 {
				evs = append(evs, purchase(u, o(3), day(n+40), region, "kettle", "mug"))
			}
		} else {
			evs = append(evs,
				purchase(u, o(1), day(n), region, "lamp", "shade", "bag"),
				event(engine.EventView, u, "bulb", day(n+20)),
				purchase(u, o(2), day(n+30), region, "bulb", "lantern", "bag"))
		}
		evs = append(evs, purchase(u, o(4), day(n+50), region, "bag"), purchase(u, o(5), day(n+55), region, "bag"))
	}
	return evs
}

func seq(evs []engine.Event) iter.Seq2[engine.Event, error] {
	return func(yield func(engine.Event, error) bool) {
		for _, e := range evs {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func testOptions() recommend.Options {
	o := recommend.DefaultOptions()
	o.Factors = 8
	o.Iterations = 6
	o.Now = now
	return o
}

func mustTrain(tb testing.TB, evs []engine.Event, o recommend.Options) *recommend.Model {
	tb.Helper()
	m, err := recommend.Train(context.Background(), seq(evs), fixtureItems(), o)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func fixtureCatalog() *recommend.Catalog {
	c := recommend.NewCatalog()
	c.Put(fixtureItems()...)
	return c
}

func ids(recs []engine.Recommended) []engine.ItemID {
	out := make([]engine.ItemID, len(recs))
	for i, r := range recs {
		out[i] = r.Item
	}
	return out
}

// historyOf returns the fixture events of u.
func historyOf(u engine.UserID) []engine.Event {
	var h []engine.Event
	for _, e := range fixtureEvents() {
		if e.User == u {
			h = append(h, e)
		}
	}
	return h
}
