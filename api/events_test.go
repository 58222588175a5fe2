package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"heed/engine"
)

// exportEvents returns how many events heed holds for id, and its order count.
func (h *harness) heldEvents(id string) (events, orders int) {
	h.t.Helper()
	r := h.get(userPath(id, "/export"), adminKey)
	want(h.t, r, http.StatusOK)
	var ex struct {
		User   engine.User    `json:"user"`
		Events []engine.Event `json:"events"`
	}
	r.decode(h.t, &ex)
	return len(ex.Events), ex.User.OrderCount
}

// TestEventsCollectPolicy: an event whose collection the shopper did not
// allow is dropped, reported with its index and reason, and not stored; a
// purchase is kept (contract) and counted.
func TestEventsCollectPolicy(t *testing.T) {
	h := newHarness(t)
	want(t, h.do(req{method: "PUT", path: "/v1/items", auth: storeKey, body: map[string]any{"items": shopCatalog}}), http.StatusOK)
	h.mustUser("dan", nil)
	h.mustConsent("dan", map[string]any{"purpose": "personalization", "signal": "favorites", "status": "granted"})
	now := time.Now().Add(-time.Hour)
	res := h.recordEvents(
		event("view", "dan", "shoe-1", now),           // browsing: not allowed
		purchase("dan", "d-1", now, "tea-1", "cup-1"), // contract
		event("favorite", "dan", "lamp-1", now),       // allowed
		map[string]any{"type": "search", "user_id": "dan", "query": "红茶", "occurred_at": now.Format(time.RFC3339)},
	)
	if res.Accepted != 2 || len(res.Dropped) != 2 || res.Dropped[0].Index != 0 || res.Dropped[1].Index != 3 {
		t.Fatalf("result %+v; want 2 accepted, events 0 and 3 dropped", res)
	}
	if !strings.Contains(res.Dropped[0].Reason, "view") {
		t.Errorf("drop reason %q does not say what was refused", res.Dropped[0].Reason)
	}
	if n, orders := h.heldEvents("dan"); n != 2 || orders != 1 {
		t.Errorf("held %d events and %d orders; want 2 and 1", n, orders)
	}
	var u engine.User
	r := h.get(userPath("dan"), storeKey)
	want(t, r, http.StatusOK)
	r.decode(t, &u)
	if u.OrderCount != 1 || u.FirstPurchaseAt.IsZero() {
		t.Errorf("order count %d, first purchase %v", u.OrderCount, u.FirstPurchaseAt)
	}
	var logged bool
	for _, e := range h.activity("dan") {
		logged = logged || (e["action"] == engine.ActionEventsCollected && e["decision_id"] != "")
	}
	if !logged {
		t.Error("the collection is not in dan's usage log with a decision id")
	}
}

// TestEventsInvalid is invariant 8 for events and items: a bad event fails
// the whole batch with a problem naming its index and field, and nothing
// of the batch is stored.
func TestEventsInvalid(t *testing.T) {
	h := newHarness(t)
	want(t, h.do(req{method: "PUT", path: "/v1/items", auth: storeKey, body: map[string]any{"items": shopCatalog}}), http.StatusOK)
	h.mustUser("eve", nil)
	now := time.Now().Add(-time.Hour)
	good := purchase("eve", "e-1", now, "tea-1")
	for _, c := range []struct {
		name  string
		event any
		field string
	}{
		{"unknown type", map[string]any{"type": "teleport", "user_id": "eve", "occurred_at": now.Format(time.RFC3339)}, "events[1].type"},
		{"unknown user", purchase("nobody", "n-1", now, "tea-1"), "events[1].user_id"},
		{"unknown item", purchase("eve", "e-2", now, "tea-404"), "events[1].items[0].item_id"},
		{"unknown viewed item", event("view", "eve", "shoe-404", now), "events[1].item_id"},
		{"Feb 30", `{"type":"view","user_id":"eve","item_id":"shoe-1","occurred_at":"2026-02-30T10:00:00Z"}`, "events[1].occurred_at"},
		{"no time zone", `{"type":"view","user_id":"eve","item_id":"shoe-1","occurred_at":"2026-02-03 10:00:00"}`, "events[1].occurred_at"},
		{"no time", map[string]any{"type": "view", "user_id": "eve", "item_id": "shoe-1"}, "events[1].occurred_at"},
		{"far future", event("view", "eve", "shoe-1", time.Now().Add(72*time.Hour)), "events[1].occurred_at"},
		{"zero quantity", map[string]any{"type": "purchase", "user_id": "eve", "items": []map[string]any{{"item_id": "tea-1", "quantity": 0, "price": 1}}, "occurred_at": now.Format(time.RFC3339)}, "events[1].items[0].quantity"},
		{"unknown field", map[string]any{"type": "view", "user_id": "eve", "item_id": "shoe-1", "occurred_at": now.Format(time.RFC3339), "colour": "red"}, "events[1].colour"},
		{"bad touchpoint", map[string]any{"type": "view", "user_id": "eve", "item_id": "shoe-1", "touchpoint": "moon", "occurred_at": now.Format(time.RFC3339)}, "events[1].touchpoint"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body any = map[string]any{"events": []any{good, c.event}}
			if s, ok := c.event.(string); ok {
				body = `{"events":[{"type":"purchase","user_id":"eve","items":[{"item_id":"tea-1","quantity":1,"price":1}],"occurred_at":"` + now.Format(time.RFC3339) + `"},` + s + `]}`
			}
			wantProblem(t, h.do(req{method: "POST", path: "/v1/events", auth: storeKey, body: body}), http.StatusBadRequest, c.field)
		})
	}
	wantProblem(t, h.do(req{method: "POST", path: "/v1/events", auth: storeKey, body: `{"events":[]}`}), http.StatusBadRequest, "events")
	wantProblem(t, h.do(req{method: "POST", path: "/v1/events", auth: storeKey, body: ``}), http.StatusBadRequest)
	if n, orders := h.heldEvents("eve"); n != 0 || orders != 0 {
		t.Errorf("bad batches stored %d events, %d orders", n, orders)
	}

	// Items: all or none, duplicates and bad fields named.
	r := h.do(req{method: "PUT", path: "/v1/items", auth: storeKey, body: map[string]any{"items": []map[string]any{
		{"id": "new-1", "title": "新品", "price": 1, "in_stock": true},
		{"id": "new-1", "title": "again", "price": 1, "in_stock": true},
		{"id": "new-2", "title": "", "price": -1, "in_stock": true},
	}}})
	wantProblem(t, r, http.StatusBadRequest, "items[1].id", "items[2].title", "items[2].price")
	wantProblem(t, h.do(req{method: "POST", path: "/v1/events", auth: storeKey, body: map[string]any{"events": []any{event("view", "eve", "new-1", now)}}}),
		http.StatusBadRequest, "events[0].item_id")
	want(t, h.do(req{method: "PUT", path: "/v1/items", auth: merchKey, body: map[string]any{"items": shopCatalog}}), http.StatusForbidden)
}

// TestImportEvents streams NDJSON and CSV in; a bad line names its line.
func TestImportEvents(t *testing.T) {
	h := newHarness(t)
	want(t, h.do(req{method: "PUT", path: "/v1/items", auth: storeKey, body: map[string]any{"items": shopCatalog}}), http.StatusOK)
	h.mustUser("fay", nil)
	h.mustConsent("fay", grantAll)
	ndjson := `{"type":"purchase","user_id":"fay","order_id":"f-1","items":[{"item_id":"tea-1","quantity":2,"price":30}],"occurred_at":"2025-01-02T10:00:00+08:00"}
{"type":"view","user_id":"fay","item_id":"shoe-1","touchpoint":"app","occurred_at":"2025-01-03T10:00:00+08:00"}
`
	r := h.do(req{method: "POST", path: "/v1/import/events", auth: storeKey, body: ndjson, header: map[string]string{"Content-Type": "application/x-ndjson"}})
	want(t, r, http.StatusOK)
	var res engine.ImportResult
	r.decode(t, &res)
	if res.Accepted != 2 {
		t.Errorf("ndjson: %s", r.body)
	}
	csv := "type,user_id,item_id,quantity,price,order_id,touchpoint,occurred_at\n" +
		"purchase,fay,tea-2,1,35,f-2,store,2025-02-01T10:00:00Z\n" +
		"purchase,fay,cup-1,1,20,f-2,store,2025-02-01T10:00:00Z\n" +
		"view,fay,shoe-2,,,,web,2025-02-02T10:00:00Z\n"
	r = h.do(req{method: "POST", path: "/v1/import/events", auth: storeKey, body: csv, header: map[string]string{"Content-Type": "text/csv"}})
	want(t, r, http.StatusOK)
	r.decode(t, &res)
	if res.Accepted != 2 {
		t.Errorf("csv: %s; want 2 events (one purchase of two lines, one view)", r.body)
	}
	if n, orders := h.heldEvents("fay"); n != 4 || orders != 2 {
		t.Errorf("held %d events, %d orders; want 4 and 2", n, orders)
	}
	bad := "type,user_id,item_id,occurred_at\nview,fay,shoe-1,2025-02-02T10:00:00Z\nview,fay,shoe-1,yesterday\n"
	wantProblem(t, h.do(req{method: "POST", path: "/v1/import/events", auth: storeKey, body: bad, header: map[string]string{"Content-Type": "text/csv"}}),
		http.StatusBadRequest, "line[3].occurred_at")
	want(t, h.do(req{method: "POST", path: "/v1/import/events", auth: storeKey, body: "x", header: map[string]string{"Content-Type": "application/pdf"}}), http.StatusUnsupportedMediaType)
	if n, _ := h.heldEvents("fay"); n != 4 {
		t.Errorf("the bad import stored events: %d held", n)
	}

	// A bad line in the second batch: the first batch stays, and the
	// problem says up to which line, so the import can resume after it.
	var long strings.Builder
	for range engine.ImportBatchSize + 10 {
		long.WriteString(`{"type":"view","user_id":"fay","item_id":"shoe-1","occurred_at":"2025-03-01T10:00:00Z"}` + "\n")
	}
	long.WriteString(`{"type":"view","user_id":"fay","item_id":"shoe-1","occurred_at":"never"}` + "\n")
	p := wantProblem(t, h.do(req{method: "POST", path: "/v1/import/events", auth: storeKey, body: long.String(), header: map[string]string{"Content-Type": "application/x-ndjson"}}),
		http.StatusBadRequest, fmt.Sprintf("line[%d].occurred_at", engine.ImportBatchSize+11))
	if d, _ := p["detail"].(string); !strings.Contains(d, fmt.Sprintf("%d events through line %d were stored", engine.ImportBatchSize, engine.ImportBatchSize)) {
		t.Errorf("detail %q does not say what was stored", d)
	}
	if n, _ := h.heldEvents("fay"); n != 4+engine.ImportBatchSize {
		t.Errorf("held %d events; want the first batch stored", n)
	}
}
