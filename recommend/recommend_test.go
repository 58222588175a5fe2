package recommend_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
	"heed/recommend"
)

var fixtureModel = sync.OnceValue(func() *recommend.Model {
	m, err := recommend.Train(context.Background(), seq(fixtureEvents()), fixtureItems(), testOptions())
	if err != nil {
		panic(err)
	}
	return m
})

func TestKnownNeighbours(t *testing.T) {
	m, c := fixtureModel(), fixtureCatalog()
	tests := []struct {
		strategy engine.Strategy
		item     engine.ItemID
		first    engine.ItemID
		among    []engine.ItemID // the top three are all in here
	}{
		{engine.StrategyComplementary, "mug", "saucer", []engine.ItemID{"saucer", "teapot", "spoon", "bag"}},
		{engine.StrategyComplementary, "lamp", "shade", []engine.ItemID{"shade", "bulb", "lantern", "bag"}},
		{engine.StrategySimilar, "mug", "", []engine.ItemID{"saucer", "teapot", "spoon"}},
		{engine.StrategySimilar, "shade", "", []engine.ItemID{"lamp", "bulb", "lantern"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.strategy)+"/"+string(tt.item), func(t *testing.T) {
			got := m.Recommend(c, engine.RecRequest{Strategy: tt.strategy, Item: tt.item, Now: now})
			if len(got) < 3 {
				t.Fatalf("got %v, want at least 3 items", ids(got))
			}
			if tt.first != "" && got[0].Item != tt.first {
				t.Errorf("first = %s, want %s (list %v)", got[0].Item, tt.first, ids(got))
			}
			for _, r := range got[:3] {
				if !slices.Contains(tt.among, r.Item) {
					t.Errorf("top 3 %v has %s, want only %v", ids(got[:3]), r.Item, tt.among)
				}
				if r.Item == tt.item {
					t.Errorf("the context item %s is in its own list", tt.item)
				}
			}
		})
	}
}

// The bag is in every basket; a lift-like measure keeps it from topping
// every complementary list.
func TestComplementaryDampsBestSeller(t *testing.T) {
	m, c := fixtureModel(), fixtureCatalog()
	for _, it := range []engine.ItemID{"mug", "saucer", "teapot", "spoon", "lamp", "shade", "bulb"} {
		got := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyComplementary, Item: it, Now: now, AvailableIn: "north"})
		if len(got) == 0 || got[0].Item == "bag" {
			t.Errorf("complementary(%s) = %v: the best-seller comes first", it, ids(got))
		}
		for _, r := range got {
			if !slices.Contains(r.Reasons, "bought_with:"+string(it)) && !slices.Contains(r.Reasons, "similar_to:"+string(it)) && !slices.Contains(r.Reasons, "popular") {
				t.Errorf("complementary(%s): %s has reasons %v", it, r.Item, r.Reasons)
			}
		}
	}
}

func TestFoldInUsesOnlyHistory(t *testing.T) {
	m, c := fixtureModel(), fixtureCatalog()
	// u00 is a kitchen shopper in training; its request history decides.
	lighting := []engine.Event{event(engine.EventView, "u00", "lamp", now.Add(-time.Hour)), event(engine.EventView, "u00", "shade", now.Add(-time.Hour))}
	req := engine.RecRequest{Strategy: engine.StrategyForYou, Personalized: true, History: lighting, Now: now}
	got := m.Recommend(c, req)
	if len(got) == 0 || !slices.Contains([]engine.ItemID{"bulb", "lantern", "lamp", "shade", "neon"}, got[0].Item) {
		t.Errorf("for_you from lighting views = %v, want lighting first", ids(got))
	}
	t.Run("WithoutBrowsing", func(t *testing.T) {
		var purchases []engine.Event
		for _, e := range historyOf("u20") {
			if e.Type == engine.EventPurchase {
				purchases = append(purchases, e)
			}
		}
		with := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Personalized: true, History: historyOf("u20"), Now: now})
		without := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Personalized: true, History: purchases, Now: now})
		if cmp.Equal(with, without) {
			t.Errorf("removing the browsing events changed nothing: %v", with)
		}
	})
	t.Run("EmptyHistoryIsTheFallback", func(t *testing.T) {
		personal := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Personalized: true, Now: now})
		fallback := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Now: now})
		if diff := cmp.Diff(fallback, personal); diff != "" {
			t.Errorf("empty history differs from the fallback (-want +got):\n%s", diff)
		}
	})
	t.Run("UnfavoriteCancels", func(t *testing.T) {
		fav := event(engine.EventFavorite, "u00", "lamp", now.Add(-2*time.Hour))
		unfav := event(engine.EventUnfavorite, "u00", "lamp", now.Add(-time.Hour))
		got := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Personalized: true, History: []engine.Event{fav, unfav}, Now: now})
		want := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Now: now})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("a cancelled favorite still counts (-want +got):\n%s", diff)
		}
		if liked := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Personalized: true, History: []engine.Event{fav}, Now: now}); cmp.Equal(liked, want) {
			t.Errorf("a favorite changes nothing")
		}
	})
}

func TestFallbackIsTheSameForEveryone(t *testing.T) {
	m, c := fixtureModel(), fixtureCatalog()
	before := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Now: now, Limit: 20})
	for _, u := range []engine.UserID{"u03", "u20"} { // nothing of a request stays behind
		m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Personalized: true, History: historyOf(u), Now: now, Limit: 20})
	}
	if diff := cmp.Diff(before, m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Now: now, Limit: 20})); diff != "" {
		t.Errorf("fallback changed after personalized requests (-before +after):\n%s", diff)
	}
	for _, s := range engine.Strategies {
		a := m.Recommend(c, engine.RecRequest{Strategy: s, History: historyOf("u01"), Region: "north", Item: "mug", Now: now,
			Interests: []engine.InterestTag{{Tag: "category:kitchen", Weight: 1}}})
		b := m.Recommend(c, engine.RecRequest{Strategy: s, History: historyOf("u20"), Region: "south", Item: "mug", Now: now})
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("%s: fallbacks differ (-a +b):\n%s", s, diff)
		}
		if len(a) == 0 {
			t.Errorf("%s: empty fallback", s)
		}
	}
}

func TestBlockedTagNeverMatched(t *testing.T) {
	m, c := fixtureModel(), fixtureCatalog()
	blocked := []string{"category:lighting", "tag:neon"}
	for _, s := range engine.Strategies {
		req := engine.RecRequest{
			Strategy: s, Personalized: true, History: historyOf("u20"), Region: "north", Item: "lamp", Now: now,
			Interests: []engine.InterestTag{{Tag: "category:lighting", Weight: 1}, {Tag: "tag:paper", Weight: 1}},
			Blocked:   blocked,
		}
		for _, r := range m.Recommend(c, req) {
			for _, why := range r.Reasons {
				for _, b := range blocked {
					if strings.Contains(why, b) {
						t.Errorf("%s: %s has reason %q naming blocked %q", s, r.Item, why, b)
					}
				}
			}
		}
	}
}

func TestFilters(t *testing.T) {
	m := fixtureModel()
	c := fixtureCatalog()
	// The model knows the spoon, but the live catalog no longer does.
	c2 := recommend.NewCatalog()
	for _, it := range fixtureItems() {
		if it.ID != "spoon" {
			c2.Put(it)
		}
	}
	hist := historyOf("u03") // bought mug, saucer, teapot, spoon, kettle, bag
	for _, s := range engine.Strategies {
		for _, personal := range []bool{false, true} {
			req := engine.RecRequest{Strategy: s, Personalized: personal, History: hist, Item: "mug", AvailableIn: "south", Now: now, Limit: 20}
			for _, r := range m.Recommend(c2, req) {
				switch {
				case r.Item == "kettle":
					t.Errorf("%s: out-of-stock kettle returned", s)
				case r.Item == "lantern":
					t.Errorf("%s: lantern, sold only in the north, returned in the south", s)
				case r.Item == "spoon":
					t.Errorf("%s: spoon, unknown to the catalog, returned", s)
				case len(r.Reasons) == 0:
					t.Errorf("%s: %s has no reason", s, r.Item)
				}
			}
		}
	}
	got := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyForYou, Personalized: true, History: hist, Now: now, Limit: 20})
	for _, r := range got {
		if slices.Contains([]engine.ItemID{"mug", "saucer", "teapot", "spoon", "bag"}, r.Item) {
			t.Errorf("for_you returned %s, already bought", r.Item)
		}
	}
	again := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyBuyAgain, Personalized: true, History: hist, Now: now})
	if len(again) == 0 || again[0].Item != "bag" || !slices.Contains(again[0].Reasons, "buy_again") {
		t.Errorf("buy_again = %+v, want the bag first", again)
	}
}

// When a product's neighbours are sold out, items sharing its tags fill
// its similar and complementary lists before popular items do.
func TestSoldOutNeighboursGiveWayToLikeItems(t *testing.T) {
	m := fixtureModel()
	c := recommend.NewCatalog()
	for _, it := range fixtureItems() {
		it.InStock = it.ID == "mug"
		c.Put(it)
	}
	// A ceramic cup, new to the catalog and so to no model's neighbours.
	c.Put(engine.Item{ID: "cup", Title: "Ceramic cup", Category: "kitchen", Tags: []string{"ceramic"}, Price: 8, InStock: true})
	for _, s := range []engine.Strategy{engine.StrategySimilar, engine.StrategyComplementary} {
		got := m.Recommend(c, engine.RecRequest{Strategy: s, Item: "mug", Now: now, Limit: 3})
		if len(got) == 0 || got[0].Item != "cup" || !slices.Equal(got[0].Reasons, []string{"similar_to:mug"}) {
			t.Errorf("%s of the mug, its neighbours sold out = %+v, want the cup first, similar to the mug", s, got)
		}
	}
}

func TestStrategies(t *testing.T) {
	m, c := fixtureModel(), fixtureCatalog()
	req := func(s engine.Strategy) engine.RecRequest {
		return engine.RecRequest{Strategy: s, Personalized: true, History: historyOf("u21"), Region: "south", Now: now,
			Interests: []engine.InterestTag{{Tag: "tag:neon", Weight: 1}}}
	}
	t.Run("NewArrivals", func(t *testing.T) {
		got := m.Recommend(c, req(engine.StrategyNewArrivals))
		if diff := cmp.Diff([]engine.ItemID{"neon", "glowbox"}, ids(got)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		if !slices.Contains(got[0].Reasons, "new_arrival") || !slices.Contains(got[1].Reasons, "upcoming") {
			t.Errorf("reasons %v and %v", got[0].Reasons, got[1].Reasons)
		}
	})
	t.Run("Region", func(t *testing.T) {
		got := m.Recommend(c, req(engine.StrategyRegion))
		if len(got) == 0 || !slices.Contains(got[0].Reasons, "popular_in_region:south") {
			t.Errorf("region = %+v", got)
		}
	})
	t.Run("RegionLeavesOutWhatWasBought", func(t *testing.T) {
		// u21 bought lamp, shade, bulb, lantern and bags; bags and the
		// lighting sell best in the south.
		bought := []engine.ItemID{"lamp", "shade", "bulb", "lantern", "bag"}
		req := req(engine.StrategyRegion)
		req.Limit = 20
		without := req
		without.History = nil
		if got := ids(m.Recommend(c, without)); !slices.Contains(got, "bag") || !slices.Contains(got, "lamp") {
			t.Fatalf("region without history = %v, want the bag and the lamp in it", got)
		}
		got := m.Recommend(c, req)
		if len(got) == 0 {
			t.Fatal("empty")
		}
		for _, r := range got {
			if slices.Contains(bought, r.Item) {
				t.Errorf("region returned %s, already bought: %v", r.Item, ids(got))
			}
		}
		// Without the purchases signal the engine passes no purchases: the
		// history it passes (here browsing only) changes nothing.
		var browsing []engine.Event
		for _, e := range req.History {
			if e.Type != engine.EventPurchase {
				browsing = append(browsing, e)
			}
		}
		req.History = browsing
		if diff := cmp.Diff(m.Recommend(c, without), m.Recommend(c, req)); diff != "" {
			t.Errorf("region used more than purchases (-no history +browsing):\n%s", diff)
		}
	})
	t.Run("RegionNotPersonalized", func(t *testing.T) {
		// History not allowed: the same non-personalized list for everyone,
		// bought items included.
		req := req(engine.StrategyRegion)
		req.Personalized = false
		got := m.Recommend(c, req)
		if want := m.Recommend(c, engine.RecRequest{Strategy: engine.StrategyRegion, Now: now}); !cmp.Equal(want, got) {
			t.Errorf("region not personalized = %v, want the fallback %v", ids(got), ids(want))
		}
		if len(got) == 0 || got[0].Item != "bag" || !slices.Contains(got[0].Reasons, "popular") {
			t.Errorf("region not personalized = %+v, want the bag first, as popular", got)
		}
	})
	t.Run("ForYouReasons", func(t *testing.T) {
		got := m.Recommend(c, req(engine.StrategyForYou))
		if len(got) == 0 {
			t.Fatal("empty")
		}
		var all []string
		for _, r := range got {
			if len(r.Reasons) == 0 {
				t.Errorf("%s has no reason", r.Item)
			}
			all = append(all, r.Reasons...)
		}
		t.Logf("for_you %+v", got)
		if !slices.ContainsFunc(all, func(s string) bool { return strings.HasPrefix(s, "matches_interest:tag:neon") }) {
			t.Errorf("no interest match in %v", all)
		}
	})
}

func TestSnapshotRoundTrip(t *testing.T) {
	m, c := fixtureModel(), fixtureCatalog()
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d", n, err, buf.Len())
	}
	m2, err := recommend.ReadModel(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m.Stats(), m2.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	for _, s := range engine.Strategies {
		for _, u := range []engine.UserID{"u02", "u17"} {
			req := engine.RecRequest{Strategy: s, Personalized: true, History: historyOf(u), Region: "north", Item: "lamp", Now: now}
			if diff := cmp.Diff(m.Recommend(c, req), m2.Recommend(c, req)); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", s, u, diff)
			}
		}
	}
	t.Run("BadHeader", func(t *testing.T) {
		b := bytes.Clone(buf.Bytes())
		b[9] = 9 // version
		if _, err := recommend.ReadModel(bytes.NewReader(b)); !errors.Is(err, recommend.ErrSnapshot) {
			t.Errorf("err = %v, want ErrSnapshot", err)
		}
		if _, err := recommend.ReadModel(strings.NewReader("nope")); !errors.Is(err, recommend.ErrSnapshot) {
			t.Errorf("err = %v, want ErrSnapshot", err)
		}
	})
}

func TestTrainedOnAndErasure(t *testing.T) {
	var without []engine.Event
	for _, e := range fixtureEvents() {
		if e.User != "u05" {
			without = append(without, e)
		}
	}
	full, erased := fixtureModel(), mustTrain(t, without, testOptions())
	if !full.TrainedOn("u05") || erased.TrainedOn("u05") || !erased.TrainedOn("u06") || full.TrainedOn("nobody") {
		t.Errorf("TrainedOn(u05) = %v, %v after erasure; TrainedOn(u06) = %v", full.TrainedOn("u05"), erased.TrainedOn("u05"), erased.TrainedOn("u06"))
	}
	if got, want := erased.Stats().Users, full.Stats().Users-1; got != want {
		t.Errorf("users = %d, want %d", got, want)
	}
}

func TestTrainingIsDeterministic(t *testing.T) {
	c := fixtureCatalog()
	o1, o2 := testOptions(), testOptions()
	o1.Workers, o2.Workers = 1, 3
	a, b := mustTrain(t, fixtureEvents(), o1), mustTrain(t, fixtureEvents(), o2)
	for _, s := range engine.Strategies {
		req := engine.RecRequest{Strategy: s, Personalized: true, History: historyOf("u07"), Item: "teapot", Now: now}
		if diff := cmp.Diff(a.Recommend(c, req), b.Recommend(c, req)); diff != "" {
			t.Errorf("%s (-1 worker +3 workers):\n%s", s, diff)
		}
	}
}

func TestTrainErrorsAndProgress(t *testing.T) {
	boom := errors.New("boom")
	bad := func(yield func(engine.Event, error) bool) { yield(engine.Event{}, boom) }
	if _, err := recommend.Train(context.Background(), bad, nil, testOptions()); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := recommend.Train(ctx, seq(fixtureEvents()), nil, testOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	o := testOptions()
	var calls []int
	o.Progress = func(it, of int, _ time.Duration) { calls = append(calls, it*100+of) }
	m := mustTrain(t, fixtureEvents(), o)
	if diff := cmp.Diff([]int{106, 206, 306, 406, 506, 606}, calls); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	st := m.Stats()
	if st.Users != 30 || st.Iterations != 6 || st.Interactions == 0 || st.TrainedAt.IsZero() {
		t.Errorf("stats %+v", st)
	}
}

func TestLive(t *testing.T) {
	l := recommend.NewLive(recommend.NewCatalog())
	var _ engine.Recommender = l
	l.PutItems(fixtureItems()...)
	req := engine.RecRequest{Strategy: engine.StrategyForYou, Personalized: true, Now: now,
		Interests: []engine.InterestTag{{Tag: "category:kitchen", Weight: 1}}}
	got := l.Recommend(req)
	if len(got) == 0 || l.Model() != nil {
		t.Fatalf("no model: %v", got)
	}
	if !slices.Contains(got[0].Reasons, "matches_interest:category:kitchen") {
		t.Errorf("catalog-only first = %+v", got[0])
	}
	for _, r := range got {
		if r.Item == "kettle" || r.Item == "glowbox" {
			t.Errorf("out of stock %s", r.Item)
		}
	}
	l.Swap(fixtureModel())
	if l.Model() != fixtureModel() {
		t.Error("Swap did not take")
	}
	if got := l.Recommend(engine.RecRequest{Strategy: engine.StrategyComplementary, Item: "mug", Now: now}); len(got) == 0 || got[0].Item != "saucer" {
		t.Errorf("after swap: %v", ids(got))
	}
	l.PutItems(engine.Item{ID: "saucer", Title: "Ceramic saucer", Category: "kitchen"}) // now out of stock
	if got := l.Recommend(engine.RecRequest{Strategy: engine.StrategyComplementary, Item: "mug", Now: now}); len(got) > 0 && got[0].Item == "saucer" {
		t.Errorf("out-of-stock saucer still served: %v", ids(got))
	}
}

func TestWithoutModel(t *testing.T) {
	var m *recommend.Model
	c := fixtureCatalog()
	for _, s := range engine.Strategies {
		for _, personal := range []bool{false, true} {
			req := engine.RecRequest{Strategy: s, Personalized: personal, History: historyOf("u03"), Item: "mug", AvailableIn: "south", Now: now, Limit: 20}
			got := m.Recommend(c, req)
			if len(got) == 0 {
				t.Errorf("%s personalized=%v: empty", s, personal)
			}
			for _, r := range got {
				if r.Item == "kettle" || r.Item == "lantern" || (r.Item == "mug" && s != engine.StrategyBuyAgain) || len(r.Reasons) == 0 {
					t.Errorf("%s personalized=%v: %+v", s, personal, r)
				}
			}
		}
	}
}
