package api_test

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"heed/engine"
)

// shopCatalog is a small catalog: tea and cups (bought together), shoes
// (browsed), and two items only one shopper ever buys together.
var shopCatalog = []map[string]any{
	{"id": "tea-1", "title": "绿茶 Green tea", "category": "tea", "price": 30, "in_stock": true},
	{"id": "tea-2", "title": "Black tea", "category": "tea", "price": 35, "in_stock": true},
	{"id": "cup-1", "title": "Tea cup", "category": "cups", "price": 20, "in_stock": true},
	{"id": "cup-2", "title": "Tea pot", "category": "cups", "price": 90, "in_stock": true},
	{"id": "shoe-1", "title": "Running shoe", "category": "shoes", "tags": []string{"sport"}, "price": 400, "in_stock": true},
	{"id": "shoe-2", "title": "Trail shoe", "category": "shoes", "tags": []string{"sport"}, "price": 500, "in_stock": true},
	{"id": "shoe-3", "title": "Walking shoe", "category": "shoes", "price": 300, "in_stock": true},
	{"id": "lamp-1", "title": "Desk lamp", "category": "lamps", "price": 150, "in_stock": true},
	{"id": "rare-x", "title": "Rare vase", "category": "vases", "price": 999, "in_stock": true},
	{"id": "rare-y", "title": "Rare stand", "category": "stands", "price": 999, "in_stock": true},
	{"id": "gone-1", "title": "Sold out tea", "category": "tea", "price": 10, "in_stock": false},
}

func purchase(user, order string, at time.Time, items ...string) map[string]any {
	lines := make([]map[string]any, len(items))
	for i, it := range items {
		lines[i] = map[string]any{"item_id": it, "quantity": 1, "price": 10}
	}
	return map[string]any{"type": "purchase", "user_id": user, "order_id": order, "items": lines,
		"touchpoint": "web", "occurred_at": at.Format(time.RFC3339)}
}

func event(typ, user, item string, at time.Time) map[string]any {
	return map[string]any{"type": typ, "user_id": user, "item_id": item, "touchpoint": "app", "occurred_at": at.Format(time.RFC3339)}
}

// recordEvents posts a batch and returns the result.
func (h *harness) recordEvents(events ...map[string]any) engine.EventResult {
	h.t.Helper()
	r := h.do(req{method: "POST", path: "/v1/events", auth: storeKey, body: map[string]any{"events": events}})
	want(h.t, r, http.StatusOK)
	var res engine.EventResult
	r.decode(h.t, &res)
	return res
}

func (h *harness) recommend(user, query string) engine.RecResult {
	h.t.Helper()
	r := h.get(userPath(user, "/recommendations?"+query), storeKey)
	want(h.t, r, http.StatusOK)
	var res engine.RecResult
	r.decode(h.t, &res)
	return res
}

func (h *harness) train() {
	h.t.Helper()
	want(h.t, h.do(req{method: "POST", path: "/v1/recommender/train", auth: adminKey}), http.StatusOK)
}

var grantAll = map[string]any{"purpose": "personalization", "status": "granted"}

// shop sets up the catalog, shoppers and their history, and trains: alice
// allows personalization and buys tea with cups and browses shoes; bob
// and carol allow nothing; many others buy tea with cups, so the model has
// something to learn.
func shop(t *testing.T) *harness {
	h := newHarness(t)
	want(t, h.do(req{method: "PUT", path: "/v1/items", auth: storeKey, body: map[string]any{"items": shopCatalog}}), http.StatusOK)
	t0 := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	var events []map[string]any
	for i := range 12 {
		id := fmt.Sprintf("buyer-%d", i)
		h.mustUser(id, nil)
		h.mustConsent(id, grantAll)
		events = append(events, purchase(id, "o-"+id, t0, "tea-1", "cup-1"),
			purchase(id, "o2-"+id, t0.Add(time.Hour), "tea-2", "cup-2"))
		if i%3 == 0 {
			events = append(events, event("view", id, "shoe-1", t0), event("view", id, "shoe-2", t0))
		}
	}
	for _, id := range []string{"alice", "bob", "carol"} {
		h.mustUser(id, nil)
	}
	h.mustConsent("alice", grantAll)
	events = append(events,
		purchase("alice", "a-1", t0, "tea-1"),
		purchase("alice", "a-2", t0.Add(time.Minute), "rare-x", "rare-y"),
		event("view", "alice", "shoe-1", t0.Add(2*time.Hour)),
		event("view", "alice", "shoe-3", t0.Add(3*time.Hour)),
		event("favorite", "alice", "lamp-1", t0.Add(4*time.Hour)))
	res := h.recordEvents(events...)
	if len(res.Dropped) != 0 || res.Accepted != len(events) {
		t.Fatalf("setup events: %+v", res)
	}
	h.train()
	return h
}

// TestWithdrawalChangesTheNextList is invariants 2 and 4: a withdrawn
// signal is gone from the very next list, and without personalization the
// list is the same non-personalized one every such shopper gets.
func TestWithdrawalChangesTheNextList(t *testing.T) {
	h := shop(t)
	before := h.recommend("alice", "strategy=for_you&limit=8")
	if !before.Personalized || !slices.Contains(before.SignalsUsed, engine.SignalBrowsing) || !slices.Contains(before.SignalsUsed, engine.SignalPurchases) {
		t.Fatalf("before: personalized %v, signals %v; want browsing and purchases", before.Personalized, before.SignalsUsed)
	}
	for _, it := range before.Items {
		if len(it.Reasons) == 0 {
			t.Errorf("%s has no reasons", it.Item)
		}
		if it.Item == "tea-1" || it.Item == "gone-1" {
			t.Errorf("for_you lists %s (already bought or out of stock)", it.Item)
		}
	}

	h.mustConsent("alice", map[string]any{"purpose": "personalization", "signal": "browsing", "status": "withdrawn"})
	after := h.recommend("alice", "strategy=for_you&limit=8")
	if !after.Personalized || slices.Contains(after.SignalsUsed, engine.SignalBrowsing) {
		t.Errorf("after withdrawing browsing: personalized %v, signals %v", after.Personalized, after.SignalsUsed)
	}
	if reflect.DeepEqual(before.Items, after.Items) {
		t.Errorf("withdrawing browsing changed nothing: %v", after.Items)
	}
	for _, it := range after.Items {
		for _, r := range it.Reasons {
			if strings.Contains(r, "shoe-1") || strings.Contains(r, "shoe-3") {
				t.Errorf("%s is explained by a browsed item after the withdrawal: %v", it.Item, it.Reasons)
			}
		}
	}

	h.mustConsent("alice", map[string]any{"purpose": "personalization", "status": "withdrawn"})
	none := h.recommend("alice", "strategy=for_you&limit=8")
	bob := h.recommend("bob", "strategy=for_you&limit=8")
	carol := h.recommend("carol", "strategy=for_you&limit=8")
	if none.Personalized || bob.Personalized || len(none.SignalsUsed) != 0 {
		t.Errorf("without consent: alice personalized %v signals %v, bob personalized %v", none.Personalized, none.SignalsUsed, bob.Personalized)
	}
	if len(none.Items) == 0 || !reflect.DeepEqual(none.Items, bob.Items) || !reflect.DeepEqual(bob.Items, carol.Items) {
		t.Errorf("fallback lists differ:\nalice %v\nbob   %v\ncarol %v", none.Items, bob.Items, carol.Items)
	}

	// The personalized lists are in alice's usage log, with the signals and
	// the decision id the response gave; the fallback is not.
	var logged []map[string]any
	for _, e := range h.activity("alice") {
		if e["action"] == engine.ActionRecommendation {
			logged = append(logged, e)
		}
	}
	if len(logged) != 2 {
		t.Fatalf("usage log has %d recommendation entries, want 2 (the personalized ones)", len(logged))
	}
	if logged[0]["decision_id"] != after.DecisionID || logged[1]["decision_id"] != before.DecisionID {
		t.Errorf("usage log decision ids %v, %v; want %s, %s", logged[0]["decision_id"], logged[1]["decision_id"], after.DecisionID, before.DecisionID)
	}
	if d := h.waitDecision(after.DecisionID); d.status != http.StatusOK {
		t.Errorf("the response's decision %s is not logged: %d", after.DecisionID, d.status)
	}
}

// TestListsReadOnlyWhatTheyUse: each strategy reads, and reports as used,
// only the signals it can use. A region list leaves out what the shopper
// bought and reads nothing but purchases and the region; buy_again reads
// purchases; similar and complementary are about the context item only:
// not personalized, the same for everyone, not in the usage log.
func TestListsReadOnlyWhatTheyUse(t *testing.T) {
	h := shop(t)
	res := h.recommend("alice", "strategy=region&limit=8")
	if want := []engine.Signal{engine.SignalPurchases, engine.SignalRegion}; !res.Personalized || !reflect.DeepEqual(res.SignalsUsed, want) {
		t.Errorf("region list: personalized %v, signals %v; want %v (alice browses and favorites too)", res.Personalized, res.SignalsUsed, want)
	}
	if len(res.Items) == 0 {
		t.Fatal("empty region list")
	}
	for _, it := range res.Items {
		if it.Item == "tea-1" || it.Item == "rare-x" || it.Item == "rare-y" {
			t.Errorf("region lists %s, which alice bought", it.Item)
		}
	}
	bob := h.recommend("bob", "strategy=region&limit=8")
	if bob.Personalized || len(bob.SignalsUsed) != 0 || !slices.ContainsFunc(bob.Items, func(r engine.Recommended) bool { return r.Item == "tea-1" }) {
		t.Errorf("bob's region list without consent: personalized %v, signals %v, items %v; want the fallback, tea-1 in it", bob.Personalized, bob.SignalsUsed, bob.Items)
	}

	again := h.recommend("alice", "strategy=buy_again&limit=8")
	if want := []engine.Signal{engine.SignalPurchases}; !again.Personalized || !reflect.DeepEqual(again.SignalsUsed, want) {
		t.Errorf("buy_again list: personalized %v, signals %v; want %v", again.Personalized, again.SignalsUsed, want)
	}

	logged := func() int {
		n := 0
		for _, e := range h.activity("alice") {
			if e["action"] == engine.ActionRecommendation {
				n++
			}
		}
		return n
	}
	before := logged()
	for _, strategy := range []string{"similar", "complementary"} {
		q := "strategy=" + strategy + "&item_id=tea-1&limit=5"
		a, b := h.recommend("alice", q), h.recommend("bob", q)
		if a.Personalized || len(a.SignalsUsed) != 0 || len(a.Items) == 0 || !reflect.DeepEqual(a.Items, b.Items) {
			t.Errorf("%s for alice: personalized %v, signals %v, items %v; want bob's list %v", strategy, a.Personalized, a.SignalsUsed, a.Items, b.Items)
		}
	}
	if n := logged(); n != before {
		t.Errorf("similar and complementary lists added %d usage-log entries, want none", n-before)
	}
}

// TestDeletedInterestNeverComesBack: a deleted tag leaves the interests and
// every later list's reasons, and is not derived again from old or new
// events.
func TestDeletedInterestNeverComesBack(t *testing.T) {
	h := shop(t)
	tags := func() []string {
		r := h.get(userPath("alice", "/interests"), storeKey)
		want(t, r, http.StatusOK)
		var in engine.Interests
		r.decode(t, &in)
		var out []string
		for _, tg := range in.Tags {
			out = append(out, tg.Tag)
		}
		return out
	}
	if !slices.Contains(tags(), "category:shoes") {
		t.Fatalf("alice's interests %v lack category:shoes", tags())
	}
	explained := func() []string { // every reason naming category:shoes
		var found []string
		for _, strategy := range []string{"for_you", "new_arrivals", "region", "buy_again"} {
			for _, it := range h.recommend("alice", "strategy="+strategy+"&limit=20").Items {
				for _, r := range it.Reasons {
					if strings.Contains(r, "category:shoes") {
						found = append(found, strategy+": "+string(it.Item)+" "+r)
					}
				}
			}
		}
		return found
	}
	if len(explained()) == 0 {
		t.Fatal("no list explains an item by category:shoes before the deletion: the test would prove nothing")
	}
	want(t, h.do(req{method: "DELETE", path: userPath("alice", "/interests/category:shoes"), auth: storeKey}), http.StatusNoContent)
	h.recordEvents(event("view", "alice", "shoe-2", time.Now().Add(-time.Minute)))
	if slices.Contains(tags(), "category:shoes") {
		t.Errorf("category:shoes came back: %v", tags())
	}
	if got := explained(); len(got) > 0 {
		t.Errorf("after the deletion, lists are explained by it: %v", got)
	}
	h.train()
	if got := explained(); len(got) > 0 {
		t.Errorf("after the deletion and training, lists are explained by it: %v", got)
	}
}

// TestErasureLeavesTheModel is invariant 9 for the recommender: after
// erasure and the next training, the user's interactions are not among the
// model's inputs, and the pair only they bought together is no longer
// bought together.
func TestErasureLeavesTheModel(t *testing.T) {
	h := shop(t)
	if !h.trainer.Live.Model().TrainedOn("alice") {
		t.Fatal("the model was not trained on alice")
	}
	boughtWith := func() bool {
		r := h.get("/v1/items/rare-x/complementary?limit=20", storeKey)
		want(t, r, http.StatusOK)
		var res engine.RecResult
		r.decode(t, &res)
		for _, it := range res.Items {
			if it.Item == "rare-y" && slices.Contains(it.Reasons, "bought_with:rare-x") {
				return true
			}
		}
		return false
	}
	if !boughtWith() {
		t.Fatal("before erasure, rare-y is not bought with rare-x")
	}
	want(t, h.do(req{method: "DELETE", path: userPath("alice"), auth: storeKey}), http.StatusNoContent)
	h.train()
	if h.trainer.Live.Model().TrainedOn("alice") {
		t.Error("the model trained after erasure still learnt from alice")
	}
	if !h.trainer.Live.Model().TrainedOn("buyer-1") {
		t.Error("the model lost the other shoppers")
	}
	if boughtWith() {
		t.Error("after erasure and training, rare-y is still bought with rare-x")
	}
	r := h.get("/v1/recommender", adminKey)
	want(t, r, http.StatusOK)
	if m := r.json(t); m["trained"] != true || m["factors"] != float64(8) {
		t.Errorf("model info: %s", r.body)
	}
}

func TestItemListsAndAccess(t *testing.T) {
	h := shop(t)
	r := h.get("/v1/items/tea-1/similar?limit=3", storeKey)
	want(t, r, http.StatusOK)
	var res engine.RecResult
	r.decode(t, &res)
	if res.Personalized || len(res.Items) == 0 || len(res.Items) > 3 {
		t.Errorf("similar: %s", r.body)
	}
	r = h.get("/v1/items/tea-1/complementary", merchKey)
	want(t, r, http.StatusOK)
	r.decode(t, &res)
	if len(res.Items) == 0 || !strings.HasPrefix(string(res.Items[0].Item), "cup-") {
		t.Errorf("complementary of tea-1 does not start with a cup: %s", r.body)
	}

	tok := h.mustToken("alice")
	want(t, h.get(userPath("alice", "/recommendations"), tok), http.StatusOK)
	want(t, h.get(userPath("bob", "/recommendations"), tok), http.StatusForbidden)
	want(t, h.do(req{method: "POST", path: "/v1/recommender/train", auth: storeKey}), http.StatusForbidden)
	want(t, h.get(userPath("nobody", "/recommendations"), storeKey), http.StatusNotFound)
	want(t, h.get("/v1/items/nope/similar", storeKey), http.StatusNotFound)

	for _, c := range []struct{ query, field string }{
		{"strategy=best", "strategy"},
		{"strategy=similar", "item_id"},
		{"limit=0", "limit"},
		{"limit=101", "limit"},
		{"touchpoint=moon", "touchpoint"},
	} {
		wantProblem(t, h.get(userPath("alice", "/recommendations?"+c.query), storeKey), http.StatusBadRequest, c.field)
	}
}
