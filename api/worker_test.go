package api_test

import (
	"net/http"
	"testing"
	"time"

	"heed/engine"
)

// The worker routes carry the scheduler's steps for heed worker: a run
// planned, prepared and finished through them ends as a sent delivery in
// the ledger. Only an admin key reaches them.
func TestWorkerProtocol(t *testing.T) {
	h := newHarness(t)
	h.mustUser("w1", map[string]any{"time_zone": "Asia/Shanghai"})
	h.mustConsent("w1", map[string]any{"purpose": "marketing", "channel": "push", "status": "granted"})
	c := h.mustCampaign(func(b map[string]any) { b["channels"] = []string{"push"} })
	want(t, h.do(req{method: "POST", path: campaignPath(c.ID, "/activate"), auth: merchKey}), http.StatusOK)

	r := h.get("/v1/worker", merchKey)
	want(t, r, http.StatusForbidden)
	r = h.get("/v1/worker", adminKey)
	want(t, r, http.StatusOK)

	// The planner's steps: nothing is due for a 10:00 cron a day before its
	// first firing is in reach; a manual run is planned and dispatched.
	r = h.do(req{method: "POST", path: "/v1/worker/due", auth: adminKey, body: map[string]any{"now": time.Now()}})
	want(t, r, http.StatusOK)
	r = h.get("/v1/worker/bounds", adminKey)
	want(t, r, http.StatusOK)
	var bounds struct{ Bounds []string }
	r.decode(t, &bounds)
	if len(bounds.Bounds) != 0 {
		t.Errorf("one user makes one chunk, no bounds; got %v", bounds.Bounds)
	}
	r = h.do(req{method: "POST", path: campaignPath(c.ID, "/run"), auth: merchKey})
	want(t, r, http.StatusAccepted)
	var run struct {
		ID  string    `json:"run_id"`
		Now time.Time `json:"now"`
	}
	r.decode(t, &run)
	job := engine.PlanJob{Campaign: c.ID, Run: run.ID, Now: run.Now}
	want(t, h.do(req{method: "POST", path: "/v1/worker/dispatched", auth: adminKey, body: map[string]any{"job": job, "chunks": 1}}), http.StatusOK)
	r = h.do(req{method: "POST", path: "/v1/worker/plan", auth: adminKey, body: map[string]any{"job": job}})
	want(t, r, http.StatusOK)
	var planned struct {
		Result   engine.PlanResult `json:"result"`
		Contacts []engine.Contact  `json:"contacts"`
	}
	r.decode(t, &planned)
	if planned.Result.Scheduled != 1 || len(planned.Contacts) != 1 || planned.Contacts[0].User != "w1" {
		t.Fatalf("plan: %s", r.body)
	}

	// The deliverer's steps.
	r = h.do(req{method: "POST", path: "/v1/worker/prepare", auth: adminKey, body: planned.Contacts[0]})
	want(t, r, http.StatusOK)
	var out engine.Outgoing
	r.decode(t, &out)
	if !out.Send || out.Delivery.Channel != engine.ChannelPush || out.Body == "" {
		t.Fatalf("prepare: %s", r.body)
	}
	r = h.do(req{method: "POST", path: "/v1/worker/sweep", auth: adminKey, body: map[string]any{"now": time.Now().Add(time.Hour), "limit": 10}})
	want(t, r, http.StatusOK)
	var swept struct{ Deliveries []engine.Delivery }
	r.decode(t, &swept)
	if len(swept.Deliveries) != 1 {
		t.Errorf("an hour on, the claimed delivery's lease has lapsed and it is due again; sweep found %d", len(swept.Deliveries))
	}
	r = h.do(req{method: "POST", path: "/v1/worker/finish", auth: adminKey, body: map[string]any{"key": out.Delivery.DeliveryKey()}})
	want(t, r, http.StatusOK)
	var d engine.Delivery
	r.decode(t, &d)
	if d.Status != engine.DeliverySent {
		t.Errorf("finish: %s", r.body)
	}
}
