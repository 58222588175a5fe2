package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestPreferences(t *testing.T) {
	h := newHarness(t)
	h.mustUser("p1", nil)
	path := userPath("p1", "/preferences")

	r := h.get(path, storeKey)
	want(t, r, http.StatusOK)
	if r.header.Get("ETag") != `"0"` || r.json(t)["version"] != float64(0) {
		t.Errorf("defaults: ETag %q, %s", r.header.Get("ETag"), r.body)
	}

	prefs := map[string]any{
		"channels":      map[string]any{"email": map[string]any{"enabled": true, "max_per_day": 1, "max_per_week": 3}, "sms": map[string]any{"enabled": false}},
		"channel_order": []string{"push", "email"},
		"quiet_hours":   map[string]any{"start": "22:00", "end": "08:00"},
		"offer_types":   []string{"discount", "points"},
		"categories":    []string{"shoes", "鞋子"},
		"language":      "zh-CN",
	}
	r = h.do(req{method: "PUT", path: path, auth: storeKey, body: prefs, header: map[string]string{"If-Match": `"0"`}})
	want(t, r, http.StatusOK)
	p := r.json(t)
	if r.header.Get("ETag") != `"1"` || p["version"] != float64(1) || p["language"] != "zh-CN" {
		t.Errorf("after PUT: ETag %q, %s", r.header.Get("ETag"), r.body)
	}

	// Stale: the stored version is 1 now.
	r = h.do(req{method: "PUT", path: path, auth: storeKey, body: prefs, header: map[string]string{"If-Match": `"0"`}})
	if p := wantProblem(t, r, http.StatusPreconditionFailed); problemType(p) != "stale" {
		t.Errorf("type %v", p["type"])
	}

	// PATCH is a merge patch; If-Match may be unquoted.
	r = h.do(req{method: "PATCH", path: path, auth: storeKey, body: `{"quiet_hours": null, "language": "en", "channels": {"sms": {"enabled": true}}}`,
		header: map[string]string{"If-Match": "1", "Content-Type": "application/merge-patch+json"}})
	want(t, r, http.StatusOK)
	p = r.json(t)
	ch := p["channels"].(map[string]any)
	if p["version"] != float64(2) || p["quiet_hours"] != nil || p["language"] != "en" ||
		ch["sms"].(map[string]any)["enabled"] != true || ch["email"].(map[string]any)["max_per_day"] != float64(1) {
		t.Errorf("after PATCH: %s", r.body)
	}
	wantProblem(t, h.do(req{method: "PATCH", path: path, auth: storeKey, body: `{"language": "fr"}`,
		header: map[string]string{"If-Match": `"1"`}}), http.StatusPreconditionFailed)

	// Without If-Match, the write goes through (application/json is fine for PATCH).
	r = h.do(req{method: "PATCH", path: path, auth: storeKey, body: `{"categories": []}`})
	want(t, r, http.StatusOK)
	if r.header.Get("ETag") != `"3"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}
	r = h.get(path, storeKey)
	if r.header.Get("ETag") != `"3"` || strings.Contains(string(r.body), "shoes") {
		t.Errorf("GET after patches: %q %s", r.header.Get("ETag"), r.body)
	}
}

func TestPreferencesInvalid(t *testing.T) {
	h := newHarness(t)
	h.mustUser("p2", nil)
	path := userPath("p2", "/preferences")
	tests := []struct {
		name, method string
		body         string
		header       map[string]string
		status       int
		field        string
	}{
		{"If-Match not a number", "PUT", `{}`, map[string]string{"If-Match": `"abc"`}, 400, "If-Match"},
		{"If-Match negative", "PATCH", `{}`, map[string]string{"If-Match": "-1"}, 400, "If-Match"},
		{"If-Match weak", "PUT", `{}`, map[string]string{"If-Match": `W/"0"`}, 400, "If-Match"},
		{"bad quiet hours", "PUT", `{"quiet_hours": {"start": "25:00", "end": "08:00"}}`, nil, 400, "quiet_hours.start"},
		{"unknown channel", "PUT", `{"channels": {"fax": {"enabled": true}}}`, nil, 400, "channels.fax"},
		{"unknown offer type", "PUT", `{"offer_types": ["cashback"]}`, nil, 400, "offer_types[0]"},
		{"cap out of range", "PATCH", `{"channels": {"email": {"max_per_day": -1}}}`, nil, 400, "channels.email.max_per_day"},
		{"wrong type", "PUT", `{"categories": "shoes"}`, nil, 400, "categories"},
		{"unknown field", "PUT", `{"colour": "red"}`, nil, 400, "colour"},
		{"patch not an object", "PATCH", `[1]`, nil, 400, "body"},
		{"patch malformed", "PATCH", `{"language": `, nil, 400, "body"},
		{"patch unknown field", "PATCH", `{"colour": "red"}`, nil, 400, "colour"},
		{"empty body", "PUT", ``, nil, 400, "body"},
		{"patch as text", "PATCH", `{}`, map[string]string{"Content-Type": "text/plain"}, 415, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(req{method: tt.method, path: path, auth: storeKey, body: tt.body, header: tt.header})
			if tt.field == "" {
				wantProblem(t, r, tt.status)
			} else {
				wantProblem(t, r, tt.status, tt.field)
			}
			if r := h.get(path, storeKey); r.header.Get("ETag") != `"0"` {
				t.Errorf("a rejected write changed the version: ETag %q", r.header.Get("ETag"))
			}
		})
	}
}

func TestInterests(t *testing.T) {
	h := newHarness(t)
	h.mustUser("i1", nil)
	r := h.get(userPath("i1", "/interests"), storeKey)
	want(t, r, http.StatusOK)
	if string(r.body) != `{"tags":[],"deleted":[]}` {
		t.Errorf("interests of a new user: %s", r.body)
	}
	want(t, h.do(req{method: "DELETE", path: userPath("i1", "/interests/category:shoes"), auth: storeKey}), http.StatusNoContent)
	want(t, h.do(req{method: "DELETE", path: userPath("i1", "/interests/品牌:李宁"), auth: storeKey}), http.StatusNoContent)
	r = h.get(userPath("i1", "/interests"), storeKey)
	want(t, r, http.StatusOK)
	deleted := r.json(t)["deleted"].([]any)
	if len(deleted) != 2 || !containsAll(deleted, "category:shoes", "品牌:李宁") {
		t.Errorf("deleted: %s", r.body)
	}
	var logged bool
	for _, e := range h.activity("i1") {
		logged = logged || e["action"] == "interest_deleted"
	}
	if !logged {
		t.Error("the deletion is not in the usage log")
	}
}

func containsAll(list []any, want ...string) bool {
	for _, w := range want {
		found := false
		for _, x := range list {
			found = found || x == w
		}
		if !found {
			return false
		}
	}
	return true
}

func TestActivity(t *testing.T) {
	h := newHarness(t)
	h.mustUser("a1", nil)
	for _, s := range []string{"granted", "withdrawn", "granted"} {
		h.mustConsent("a1", map[string]any{"purpose": "marketing", "channel": "push", "status": s})
	}
	r := h.get(userPath("a1", "/activity"), storeKey)
	want(t, r, http.StatusOK)
	var page struct {
		Entries    []map[string]any `json:"entries"`
		NextCursor string           `json:"next_cursor"`
	}
	r.decode(t, &page)
	if len(page.Entries) != 3 || page.NextCursor != "" || page.Entries[0]["action"] != "consent_change" ||
		page.Entries[0]["reason"] != "granted" || page.Entries[1]["reason"] != "withdrawn" {
		t.Errorf("activity: %s", r.body)
	}
	if id, _ := page.Entries[0]["decision_id"].(string); !strings.HasPrefix(id, "dec_") {
		t.Errorf("entry without decision id: %v", page.Entries[0])
	}

	// Page by page, newest first.
	var seen []any
	cursor := ""
	for range 5 {
		r := h.get(userPath("a1", "/activity?limit=1&cursor="+cursor), storeKey)
		want(t, r, http.StatusOK)
		r.decode(t, &page)
		for _, e := range page.Entries {
			seen = append(seen, e["id"])
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 3 {
		t.Errorf("paged through %d entries, want 3", len(seen))
	}

	for _, q := range []string{"limit=0", "limit=201", "limit=ten", "limit=-3"} {
		wantProblem(t, h.get(userPath("a1", "/activity?"+q), storeKey), http.StatusBadRequest, "limit")
	}
}
