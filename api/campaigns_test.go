package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"heed/engine"
)

// campaignBody returns a valid campaign definition, changed by mod.
func campaignBody(mod func(b map[string]any)) map[string]any {
	b := map[string]any{
		"name":     "Welcome offer",
		"kind":     "segment",
		"offer":    map[string]any{"type": "discount", "percent_off": 15, "code": "WELCOME15"},
		"channels": []string{"email", "push"},
		"schedule": map[string]any{"cron": "0 10 * * *"},
		"message":  map[string]any{"title": "{{.Offer}}", "body": "Hi {{.Name}}, {{.Offer}} with {{.Code}}."},
	}
	if mod != nil {
		mod(b)
	}
	return b
}

// A campaign is the part of a campaign the tests read.
type campaign struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	Version     int       `json:"version"`
	Name        string    `json:"name"`
	ActivatedAt time.Time `json:"activated_at"`
}

func campaignPath(id string, rest ...string) string {
	return "/v1/campaigns/" + url.PathEscape(id) + strings.Join(rest, "")
}

// mustCampaign creates a campaign with the merchandiser key.
func (h *harness) mustCampaign(mod func(map[string]any)) campaign {
	h.t.Helper()
	r := h.do(req{method: "POST", path: "/v1/campaigns", auth: merchKey, body: campaignBody(mod)})
	want(h.t, r, http.StatusCreated)
	var c campaign
	r.decode(h.t, &c)
	return c
}

func TestCampaignCreate(t *testing.T) {
	h := newHarness(t)
	r := h.do(req{method: "POST", path: "/v1/campaigns", auth: merchKey, body: campaignBody(func(b map[string]any) {
		// What heed sets is ignored, so a campaign read with GET can be sent back.
		b["id"], b["status"], b["version"] = "cmp_mine", "active", 7
		b["audience"] = map[string]any{"regions": []string{"31"}, "touchpoints": []string{"app"}}
		b["cap"] = map[string]any{"max_per_user": 2, "per": "week"}
		b["message"].(map[string]any)["locales"] = map[string]any{"zh-CN": map[string]any{"title": "{{.Offer}}", "body": "{{.Name}}，{{.Offer}}"}}
	})})
	want(t, r, http.StatusCreated)
	m := r.json(t)
	if m["status"] != "draft" || m["version"] != float64(1) || m["id"] == "cmp_mine" || !strings.HasPrefix(m["id"].(string), "cmp_") {
		t.Errorf("created campaign: %s", r.body)
	}
	if _, ok := m["activated_at"]; ok {
		t.Errorf("a draft has activated_at: %s", r.body)
	}
	id := m["id"].(string)

	r = h.get(campaignPath(id), merchKey)
	want(t, r, http.StatusOK)
	if got := r.json(t); got["name"] != "Welcome offer" || got["cap"].(map[string]any)["per"] != "week" {
		t.Errorf("GET: %s", r.body)
	}
	h.mustCampaign(func(b map[string]any) { b["name"] = "Second" })
	r = h.get("/v1/campaigns", adminKey)
	want(t, r, http.StatusOK)
	var list struct {
		Campaigns []campaign `json:"campaigns"`
	}
	r.decode(t, &list)
	if len(list.Campaigns) != 2 || list.Campaigns[0].ID != id || list.Campaigns[1].Name != "Second" {
		t.Errorf("list: %+v", list.Campaigns)
	}
	wantProblem(t, h.get(campaignPath("cmp_nope"), merchKey), http.StatusNotFound)
}

func TestCampaignCreateRejects(t *testing.T) {
	h := newHarness(t)
	huge := campaignBody(func(b map[string]any) { b["name"] = strings.Repeat("x", testMaxBody) })
	for _, tc := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"UnknownOfferType", campaignBody(func(b map[string]any) { b["offer"] = map[string]any{"type": "coupon"} }), 400, "offer.type"},
		{"PercentOffOver100", campaignBody(func(b map[string]any) { b["offer"] = map[string]any{"type": "discount", "percent_off": 150} }), 400, "offer.percent_off"},
		{"ThresholdAmountNotBelowSpend", campaignBody(func(b map[string]any) {
			b["offer"] = map[string]any{"type": "threshold", "spend": 300, "amount_off": 300}
		}), 400, "offer.amount_off"},
		{"BadCron", campaignBody(func(b map[string]any) { b["schedule"] = map[string]any{"cron": "61 10 * * *"} }), 400, "schedule.cron"},
		{"UnknownChannel", campaignBody(func(b map[string]any) { b["channels"] = []string{"fax"} }), 400, "channels[0]"},
		{"TemplateUnknownField", campaignBody(func(b map[string]any) {
			b["message"] = map[string]any{"title": "Hi", "body": "{{.Nope}}"}
		}), 400, "message.body"},
		{"Feb29InCommonYear", campaignBody(func(b map[string]any) { b["schedule"] = map[string]any{"send_at": "2027-02-29"} }), 400, "schedule.send_at"},
		{"EmptyBody", "", 400, "body"},
		{"NotJSON", "{", 400, "body"},
		{"UnknownMember", campaignBody(func(b map[string]any) { b["nmae"] = "x" }), 400, "nmae"},
		{"UnknownNestedMember", campaignBody(func(b map[string]any) {
			b["offer"] = map[string]any{"type": "discount", "percentage": 15}
		}), 400, "offer.percentage"},
		{"WrongType", campaignBody(func(b map[string]any) { b["offer"] = map[string]any{"type": "discount", "percent_off": "15"} }), 400, "offer.percent_off"},
		{"WrongTypeList", campaignBody(func(b map[string]any) { b["channels"] = "email" }), 400, "channels"},
		{"HugeBody", huge, 413, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(req{method: "POST", path: "/v1/campaigns", auth: merchKey, body: tc.body})
			if tc.field == "" {
				wantProblem(t, r, tc.status)
				return
			}
			wantProblem(t, r, tc.status, tc.field)
		})
	}
	r := h.get("/v1/campaigns", merchKey)
	want(t, r, http.StatusOK)
	if got := r.json(t)["campaigns"].([]any); len(got) != 0 {
		t.Errorf("a rejected campaign was stored: %s", r.body)
	}
}

func TestCampaignAccess(t *testing.T) {
	h := newHarness(t)
	p := wantProblem(t, h.do(req{method: "POST", path: "/v1/campaigns", auth: storeKey, body: campaignBody(nil)}), http.StatusForbidden)
	if p["decision_id"] == nil {
		t.Errorf("a denial names no decision: %v", p)
	}
	wantProblem(t, h.get("/v1/campaigns", storeKey), http.StatusForbidden)
	wantProblem(t, h.do(req{method: "POST", path: "/v1/campaigns", body: campaignBody(nil)}), http.StatusUnauthorized)
	shopper := func() string { h.mustUser("u1", nil); return h.mustToken("u1") }()
	wantProblem(t, h.get("/v1/campaigns", shopper), http.StatusForbidden)
	c := h.mustCampaign(nil)
	want(t, h.do(req{method: "POST", path: campaignPath(c.ID, "/activate"), auth: adminKey}), http.StatusOK)
}

func TestCampaignUnavailable(t *testing.T) {
	h := newHarnessWith(t, harnessOptions{noCampaigns: true})
	wantProblem(t, h.get("/v1/campaigns", merchKey), http.StatusServiceUnavailable)
	wantProblem(t, h.do(req{method: "POST", path: "/v1/campaigns", auth: merchKey, body: campaignBody(nil)}), http.StatusServiceUnavailable)
	wantProblem(t, h.get(campaignPath("cmp_x", ""), merchKey), http.StatusServiceUnavailable)
	wantProblem(t, h.get(campaignPath("cmp_x", "/stats"), merchKey), http.StatusServiceUnavailable)
}

func TestCampaignLifecycle(t *testing.T) {
	h := newHarness(t)
	c := h.mustCampaign(nil)
	transition := func(to string, status int) campaign {
		t.Helper()
		r := h.do(req{method: "POST", path: campaignPath(c.ID, "/"+to), auth: merchKey})
		if status != http.StatusOK {
			wantProblem(t, r, status)
			return campaign{}
		}
		want(t, r, status)
		var out campaign
		r.decode(t, &out)
		return out
	}
	got := transition("activate", http.StatusOK)
	if got.Status != "active" || got.Version != 2 || got.ActivatedAt.IsZero() {
		t.Errorf("activated: %+v", got)
	}
	wantProblem(t, h.do(req{method: "DELETE", path: campaignPath(c.ID), auth: merchKey}), http.StatusConflict)
	if got := transition("pause", http.StatusOK); got.Status != "paused" || got.Version != 3 {
		t.Errorf("paused: %+v", got)
	}
	if got := transition("activate", http.StatusOK); got.Status != "active" {
		t.Errorf("resumed: %+v", got)
	}
	if got := transition("end", http.StatusOK); got.Status != "ended" {
		t.Errorf("ended: %+v", got)
	}
	transition("activate", http.StatusConflict)
	transition("pause", http.StatusConflict)
	wantProblem(t, h.do(req{method: "PUT", path: campaignPath(c.ID), auth: merchKey, body: campaignBody(nil)}), http.StatusConflict)
	wantProblem(t, h.do(req{method: "POST", path: campaignPath(c.ID, "/run"), auth: merchKey}), http.StatusConflict)
	want(t, h.do(req{method: "DELETE", path: campaignPath(c.ID), auth: merchKey}), http.StatusNoContent)
	wantProblem(t, h.get(campaignPath(c.ID), merchKey), http.StatusNotFound)
	wantProblem(t, h.do(req{method: "DELETE", path: campaignPath(c.ID), auth: merchKey}), http.StatusNotFound)
	wantProblem(t, h.do(req{method: "POST", path: campaignPath(c.ID, "/activate"), auth: merchKey}), http.StatusNotFound)
}

func TestCampaignPut(t *testing.T) {
	h := newHarness(t)
	c := h.mustCampaign(nil)
	put := func(ifMatch string, mod func(map[string]any)) response {
		t.Helper()
		r := req{method: "PUT", path: campaignPath(c.ID), auth: merchKey, body: campaignBody(mod)}
		if ifMatch != "" {
			r.header = map[string]string{"If-Match": ifMatch}
		}
		return h.do(r)
	}
	r := put(`"1"`, func(b map[string]any) { b["name"] = "Renamed"; b["status"] = "ended" })
	want(t, r, http.StatusOK)
	var got campaign
	r.decode(t, &got)
	if got.ID != c.ID || got.Name != "Renamed" || got.Version != 2 || got.Status != "draft" {
		t.Errorf("after PUT: %+v", got)
	}
	p := wantProblem(t, put(`"1"`, nil), http.StatusPreconditionFailed)
	if problemType(p) != "stale" {
		t.Errorf("problem type %q, want stale", problemType(p))
	}
	wantProblem(t, put("0", nil), http.StatusPreconditionFailed)
	wantProblem(t, put("v2", nil), http.StatusBadRequest, "If-Match")
	wantProblem(t, put("2", func(b map[string]any) { b["offer"] = map[string]any{"type": "points"} }), http.StatusBadRequest, "offer.points")
	want(t, put("*", nil), http.StatusOK)
	want(t, put("", nil), http.StatusOK)
	wantProblem(t, h.do(req{method: "PUT", path: campaignPath("cmp_nope"), auth: merchKey, body: campaignBody(nil)}), http.StatusNotFound)
}

func TestCampaignPreview(t *testing.T) {
	h := newHarness(t)
	email := map[string]any{"purpose": "marketing", "channel": "email", "status": "granted", "source": "app"}
	h.mustUser("u-ok", nil)
	h.mustConsent("u-ok", email)
	h.mustUser("u-none", nil)
	h.mustUser("u-minor", map[string]any{"region": "310000", "time_zone": "Asia/Shanghai", "minor": true})
	h.mustUser("u-optout", nil)
	h.mustConsent("u-optout", email)
	want(t, h.do(req{method: "PUT", path: userPath("u-optout", "/preferences"), auth: storeKey,
		body: map[string]any{"offer_types": []string{"points"}}}), http.StatusOK)

	c := h.mustCampaign(func(b map[string]any) { b["channels"] = []string{"email"} })
	for _, body := range []any{nil, "", `{}`, map[string]any{"date": "2027-02-28"}} {
		r := h.do(req{method: "POST", path: campaignPath(c.ID, "/preview"), auth: merchKey, body: body})
		want(t, r, http.StatusOK)
		var pv struct {
			Audience   int            `json:"audience"`
			Eligible   int            `json:"eligible"`
			Suppressed map[string]int `json:"suppressed"`
			Sample     []struct {
				User    string `json:"user_id"`
				Channel string `json:"channel"`
			} `json:"sample"`
		}
		r.decode(t, &pv)
		wantSup := map[string]int{engine.ReasonNoConsent: 1, engine.ReasonMinorDelivery: 1, engine.ReasonOfferTypeOptOut: 1}
		if pv.Audience != 4 || pv.Eligible != 1 || len(pv.Suppressed) != len(wantSup) {
			t.Errorf("preview %v: %s", body, r.body)
		}
		for k, n := range wantSup {
			if pv.Suppressed[k] != n {
				t.Errorf("suppressed[%s] = %d, want %d: %s", k, pv.Suppressed[k], n, r.body)
			}
		}
		if len(pv.Sample) != 1 || pv.Sample[0].User != "u-ok" || pv.Sample[0].Channel != "email" {
			t.Errorf("sample: %s", r.body)
		}
	}
	wantProblem(t, h.do(req{method: "POST", path: campaignPath(c.ID, "/preview"), auth: merchKey,
		body: map[string]any{"date": "2027-02-29"}}), http.StatusBadRequest, "date")
	wantProblem(t, h.do(req{method: "POST", path: campaignPath(c.ID, "/preview"), auth: merchKey,
		body: map[string]any{"day": "2027-02-28"}}), http.StatusBadRequest, "day")
	wantProblem(t, h.do(req{method: "POST", path: campaignPath(c.ID, "/preview"), auth: merchKey,
		body: map[string]any{"date": 20270228}}), http.StatusBadRequest, "date")
	wantProblem(t, h.do(req{method: "POST", path: campaignPath("cmp_nope", "/preview"), auth: merchKey}), http.StatusNotFound)
	// Nothing was sent or recorded.
	r := h.get(campaignPath(c.ID, "/runs"), merchKey)
	want(t, r, http.StatusOK)
	if runs := r.json(t)["runs"].([]any); len(runs) != 0 {
		t.Errorf("a preview stored a run: %s", r.body)
	}
}

func TestCampaignRun(t *testing.T) {
	var (
		mu   sync.Mutex
		jobs []engine.PlanJob
		fail error
	)
	h := newHarnessWith(t, harnessOptions{dispatch: func(ctx context.Context, job engine.PlanJob) error {
		mu.Lock()
		defer mu.Unlock()
		jobs = append(jobs, job)
		return fail
	}})
	c := h.mustCampaign(nil)
	want(t, h.do(req{method: "POST", path: campaignPath(c.ID, "/activate"), auth: merchKey}), http.StatusOK)

	r := h.do(req{method: "POST", path: campaignPath(c.ID, "/run"), auth: merchKey, body: map[string]any{"date": "2027-02-28"}})
	want(t, r, http.StatusAccepted)
	var run struct {
		ID       string    `json:"run_id"`
		Campaign string    `json:"campaign_id"`
		Label    string    `json:"label"`
		Manual   bool      `json:"manual"`
		Now      time.Time `json:"now"`
	}
	r.decode(t, &run)
	if !strings.HasPrefix(run.ID, "run-") || run.Campaign != c.ID || run.Label != "2027-02-28" || !run.Manual || run.Now.IsZero() {
		t.Errorf("run: %s", r.body)
	}
	mu.Lock()
	if len(jobs) != 1 || jobs[0] != (engine.PlanJob{Campaign: c.ID, Run: run.ID, Label: "2027-02-28", Now: run.Now}) {
		t.Errorf("dispatched %+v, want the run's job", jobs)
	}
	fail = errors.New("redis is down")
	mu.Unlock()

	// A failed dispatch is logged; the run stands.
	r = h.do(req{method: "POST", path: campaignPath(c.ID, "/run"), auth: merchKey})
	want(t, r, http.StatusAccepted)
	if m := r.json(t); m["label"] != nil {
		t.Errorf("a run without a date has a label: %s", r.body)
	}
	if !strings.Contains(h.logs.String(), "redis is down") {
		t.Errorf("the failed dispatch was not logged")
	}
	r = h.get(campaignPath(c.ID, "/runs"), merchKey)
	want(t, r, http.StatusOK)
	var runs struct {
		Runs []struct {
			ID         string         `json:"run_id"`
			Suppressed map[string]int `json:"suppressed"`
		} `json:"runs"`
	}
	r.decode(t, &runs)
	if len(runs.Runs) != 2 || runs.Runs[0].ID != run.ID {
		t.Errorf("runs: %s", r.body)
	}

	wantProblem(t, h.do(req{method: "POST", path: campaignPath(c.ID, "/run"), auth: merchKey, body: map[string]any{"date": "2027-02-29"}}),
		http.StatusBadRequest, "date")
	wantProblem(t, h.do(req{method: "POST", path: campaignPath(c.ID, "/run"), auth: storeKey}), http.StatusForbidden)
	wantProblem(t, h.do(req{method: "POST", path: campaignPath("cmp_nope", "/run"), auth: merchKey}), http.StatusNotFound)
	wantProblem(t, h.get(campaignPath("cmp_nope", "/runs"), merchKey), http.StatusNotFound)
	want(t, h.do(req{method: "POST", path: campaignPath(c.ID, "/pause"), auth: merchKey}), http.StatusOK)
	wantProblem(t, h.do(req{method: "POST", path: campaignPath(c.ID, "/run"), auth: merchKey}), http.StatusConflict)
	mu.Lock()
	defer mu.Unlock()
	if len(jobs) != 2 {
		t.Errorf("%d dispatches, want 2 (one per run)", len(jobs))
	}
}

func TestCampaignStatsAndDeliveries(t *testing.T) {
	h := newHarness(t)
	c := h.mustCampaign(nil)
	r := h.get(campaignPath(c.ID, "/stats"), merchKey)
	want(t, r, http.StatusOK)
	st := r.json(t)
	for _, k := range []string{"runs", "sent", "failed", "scheduled", "conversions"} {
		if st[k] != float64(0) {
			t.Errorf("stats %s = %v, want 0: %s", k, st[k], r.body)
		}
	}
	if len(st["by_day"].([]any)) != 0 || len(st["by_channel"].(map[string]any)) != 0 {
		t.Errorf("stats: %s", r.body)
	}
	for _, q := range []string{"", "?status=sent&limit=500", "?user_id=u1", "?limit=1&cursor="} {
		r = h.get(campaignPath(c.ID, "/deliveries"+q), merchKey)
		want(t, r, http.StatusOK)
		if m := r.json(t); len(m["deliveries"].([]any)) != 0 || m["next_cursor"] != "" {
			t.Errorf("deliveries%s: %s", q, r.body)
		}
	}
	for q, field := range map[string]string{
		"?status=lost":     "status",
		"?limit=0":         "limit",
		"?limit=501":       "limit",
		"?limit=ten":       "limit",
		"?cursor=%21%21":   "cursor",
		"?user_id=a%2Fb":   "user_id",
		"?status=sent%20x": "status",
	} {
		wantProblem(t, h.get(campaignPath(c.ID, "/deliveries"+q), merchKey), http.StatusBadRequest, field)
	}
	wantProblem(t, h.get(campaignPath("cmp_nope", "/stats"), merchKey), http.StatusNotFound)
	wantProblem(t, h.get(campaignPath("cmp_nope", "/deliveries"), merchKey), http.StatusNotFound)
	wantProblem(t, h.get(campaignPath(c.ID, "/deliveries"), storeKey), http.StatusForbidden)
}

func TestUnsubscribeLink(t *testing.T) {
	h := newHarness(t)
	h.mustUser("u1", nil)
	h.mustConsent("u1",
		map[string]any{"purpose": "marketing", "channel": "email", "status": "granted", "source": "app"},
		map[string]any{"purpose": "marketing", "channel": "push", "status": "granted", "source": "app"})
	c := h.mustCampaign(nil)
	d := engine.Delivery{ID: "dlv_test", Contact: engine.Contact{Campaign: c.ID, User: "u1", Occurrence: "2027-02-28"}, Channel: engine.ChannelEmail}
	path := "/unsubscribe/" + h.svc.UnsubscribeToken(d)
	check := func(ch string) map[string]any {
		t.Helper()
		r := h.get(userPath("u1", "/consents/check?purpose=marketing&channel="+ch), storeKey)
		want(t, r, http.StatusOK)
		return r.json(t)
	}

	// The page offers; it changes nothing.
	r := h.get(path, "")
	want(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("page Content-Type %q", ct)
	}
	page := string(r.body)
	for _, s := range []string{`<form method="post">`, `name="List-Unsubscribe" value="One-Click"`, "退订", "Unsubscribe", "电子邮件", "email"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q:\n%s", s, page)
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "src=") || strings.Contains(page, "href=") {
		t.Errorf("page is not self-contained:\n%s", page)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("page headers: %v", r.header)
	}
	if check("email")["allowed"] != true {
		t.Fatalf("GET unsubscribed")
	}

	// RFC 8058 one-click, as a mail client sends it.
	r = h.do(req{method: "POST", path: path, body: "List-Unsubscribe=One-Click",
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	want(t, r, http.StatusOK)
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), "已退订") {
		t.Errorf("confirmation: %s %s", r.header.Get("Content-Type"), r.body)
	}
	if got := check("email"); got["allowed"] != false {
		t.Errorf("email after unsubscribing: %v", got)
	}
	if got := check("push"); got["allowed"] != true {
		t.Errorf("push after unsubscribing from email: %v", got)
	}
	hist := h.history("u1")
	last := hist[len(hist)-1]
	if last["status"] != "withdrawn" || last["channel"] != "email" || last["source"] != "unsubscribe_link" {
		t.Errorf("ledger record: %v", last)
	}
	if ev, _ := last["evidence"].(map[string]any); ev["campaign_id"] != c.ID || ev["delivery_id"] != "dlv_test" {
		t.Errorf("evidence: %v", last["evidence"])
	}
	found := false
	for _, e := range h.activity("u1") {
		if e["action"] == "consent_change" && e["channel"] == "email" && e["reason"] == "withdrawn" {
			found = e["actor"] == "shopper"
		}
	}
	if !found {
		t.Errorf("the usage log has no consent change by the shopper: %v", h.activity("u1"))
	}

	// An empty body and a JSON-only client.
	r = h.do(req{method: "POST", path: path, header: map[string]string{"Accept": "application/json"}})
	want(t, r, http.StatusOK)
	if m := r.json(t); m["withdrawn"] != true || m["channel"] != "email" {
		t.Errorf("JSON answer: %s", r.body)
	}

	// A bad link is a 404 that does not say why.
	other := h.svc.UnsubscribeToken(engine.Delivery{ID: "dlv_x", Contact: engine.Contact{User: "u2"}, Channel: engine.ChannelEmail})
	for _, p := range []string{"/unsubscribe/hun_forged.sig", "/unsubscribe/" + h.mustToken("u1"), "/unsubscribe/" + other[:len(other)-3] + "abc"} {
		wantProblem(t, h.get(p, ""), http.StatusNotFound)
		wantProblem(t, h.do(req{method: "POST", path: p}), http.StatusNotFound)
	}
	// So is the link of an unknown or erased user.
	wantProblem(t, h.do(req{method: "POST", path: "/unsubscribe/" + other}), http.StatusNotFound)
	want(t, h.do(req{method: "DELETE", path: userPath("u1"), auth: storeKey}), http.StatusNoContent)
	p := wantProblem(t, h.do(req{method: "POST", path: path}), http.StatusNotFound)
	if !strings.Contains(p["detail"].(string), "not valid") {
		t.Errorf("detail %q", p["detail"])
	}
}
