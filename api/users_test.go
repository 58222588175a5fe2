package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestUserRoundTrip(t *testing.T) {
	h := newHarness(t)
	id := "用户-Zoë_1"
	profile := map[string]any{"name": "张三 Zoë 🎉", "region": "310000", "time_zone": "Asia/Shanghai",
		"locale": "zh-CN", "birthday": "02-29", "tier": "gold", "minor": false}
	r := h.do(req{method: "PUT", path: userPath(id), auth: storeKey, body: profile})
	want(t, r, http.StatusOK)
	u := r.json(t)
	if u["id"] != id || u["name"] != profile["name"] || u["birthday"] != "02-29" {
		t.Errorf("PUT returned %s", r.body)
	}

	r = h.get(userPath(id), storeKey)
	want(t, r, http.StatusOK)
	got := r.json(t)
	for _, k := range []string{"id", "name", "region", "time_zone", "locale", "birthday", "tier"} {
		if got[k] != u[k] {
			t.Errorf("GET %s = %v, want %v", k, got[k], u[k])
		}
	}
	if got["order_count"] != float64(0) {
		t.Errorf("order_count = %v, want 0", got["order_count"])
	}

	// A second PUT updates.
	profile["tier"] = "vip"
	r = h.do(req{method: "PUT", path: userPath(id), auth: storeKey, body: profile})
	want(t, r, http.StatusOK)
	if got := r.json(t)["tier"]; got != "vip" {
		t.Errorf("tier after update = %v", got)
	}
}

func TestUserPutInvalid(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name  string
		body  any
		field string
	}{
		{"birthday month 13", map[string]any{"birthday": "13-01"}, "birthday"},
		{"Feb 29 of a common year", map[string]any{"birthday": "1990-02-29"}, "birthday"},
		{"birthday garbage", map[string]any{"birthday": "yesterday"}, "birthday"},
		{"time zone on Mars", map[string]any{"time_zone": "Mars/Olympus"}, "time_zone"},
		{"time zone Local", map[string]any{"time_zone": "Local"}, "time_zone"},
		{"unknown tier", map[string]any{"tier": "platinum"}, "tier"},
		{"guardian consent of an adult", map[string]any{"guardian_consent": true}, "guardian_consent"},
		{"wrong type", map[string]any{"minor": "yes"}, "minor"},
		{"wrong type nested string", `{"name": 42}`, "name"},
		{"unknown field", map[string]any{"nickname": "z"}, "nickname"},
		{"malformed JSON", `{"name": "a",`, "body"},
		{"not an object", `[1, 2]`, "body"},
		{"trailing data", `{} {}`, "body"},
		{"empty body", "", "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "u-" + strings.ReplaceAll(tt.name, " ", "-")
			r := h.do(req{method: "PUT", path: userPath(id), auth: storeKey, body: tt.body})
			p := wantProblem(t, r, http.StatusBadRequest, tt.field)
			if problemType(p) != "invalid" {
				t.Errorf("type %v", p["type"])
			}
			// Nothing was written.
			wantProblem(t, h.get(userPath(id), storeKey), http.StatusNotFound)
		})
	}
}

func TestUserBirthdaysAccepted(t *testing.T) {
	h := newHarness(t)
	for _, b := range []string{"02-29", "2000-02-29", "12-31", "1990-02-28"} {
		r := h.do(req{method: "PUT", path: userPath("bday-" + b), auth: storeKey, body: map[string]any{"birthday": b}})
		want(t, r, http.StatusOK)
		if got := r.json(t)["birthday"]; got != b {
			t.Errorf("birthday %q stored as %v", b, got)
		}
	}
}

func TestUserInvalidID(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("x", 129)
	wantProblem(t, h.do(req{method: "PUT", path: userPath(long), auth: storeKey, body: map[string]any{}}), http.StatusBadRequest, "id")
	// A slash cannot be sent in an id: the path no longer matches a route.
	wantProblem(t, h.do(req{method: "PUT", path: "/v1/users/a%2Fb", auth: storeKey, body: map[string]any{}}), http.StatusNotFound)
}

func TestBodyTooLarge(t *testing.T) {
	h := newHarness(t)
	big := `{"name": "` + strings.Repeat("x", testMaxBody) + `"}`
	p := wantProblem(t, h.do(req{method: "PUT", path: userPath("big"), auth: storeKey, body: big}), http.StatusRequestEntityTooLarge)
	if problemType(p) != "too-large" {
		t.Errorf("type %v", p["type"])
	}
	wantProblem(t, h.get(userPath("big"), storeKey), http.StatusNotFound)

	// Without a Content-Length the limit holds while reading.
	hr, err := http.NewRequest("PUT", h.url+userPath("big"), &chunked{strings.NewReader(big)})
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+storeKey)
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("chunked: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// chunked hides the length of its reader, so the request is sent chunked.
type chunked struct{ r *strings.Reader }

func (c *chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestUserUnknown(t *testing.T) {
	h := newHarness(t)
	for _, r := range []req{
		{method: "GET", path: userPath("nobody")},
		{method: "DELETE", path: userPath("nobody")},
		{method: "GET", path: userPath("nobody", "/export")},
		{method: "POST", path: userPath("nobody", "/token")},
		{method: "POST", path: userPath("nobody", "/identities"), body: map[string]any{"type": "email", "value": "a@example.com"}},
		{method: "POST", path: userPath("nobody", "/consents"), body: map[string]any{"records": []any{map[string]any{"purpose": "analytics", "status": "granted"}}}},
		{method: "GET", path: userPath("nobody", "/consents")},
		{method: "GET", path: userPath("nobody", "/consents/check?purpose=analytics")},
		{method: "GET", path: userPath("nobody", "/consents/history")},
		{method: "GET", path: userPath("nobody", "/preferences")},
		{method: "PUT", path: userPath("nobody", "/preferences"), body: map[string]any{}},
		{method: "GET", path: userPath("nobody", "/interests")},
		{method: "DELETE", path: userPath("nobody", "/interests/category:shoes")},
		{method: "GET", path: userPath("nobody", "/activity")},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			r.auth = adminKey
			p := wantProblem(t, h.do(r), http.StatusNotFound)
			if problemType(p) != "not-found" {
				t.Errorf("type %v", p["type"])
			}
		})
	}
}

func TestUserEraseAndExport(t *testing.T) {
	h := newHarness(t)
	h.mustUser("erase-me", map[string]any{"name": "Li Lei"})
	h.mustConsent("erase-me", map[string]any{"purpose": "marketing", "channel": "email", "status": "granted"})

	r := h.get(userPath("erase-me", "/export"), storeKey)
	want(t, r, http.StatusOK)
	x := r.json(t)
	if x["user"].(map[string]any)["name"] != "Li Lei" || len(x["consents"].([]any)) != 1 {
		t.Errorf("export: %s", r.body)
	}
	var exported bool
	for _, e := range x["activity"].([]any) {
		exported = exported || e.(map[string]any)["action"] == "export"
	}
	if !exported {
		t.Errorf("the export is not in the exported activity: %s", r.body)
	}
	if d, ok := x["deliveries"].([]any); !ok || len(d) != 0 {
		t.Errorf("export deliveries = %v, want an empty list (scheduler tests export a sent one)", x["deliveries"])
	}

	r = h.do(req{method: "DELETE", path: userPath("erase-me"), auth: storeKey})
	want(t, r, http.StatusNoContent)
	wantProblem(t, h.get(userPath("erase-me"), storeKey), http.StatusNotFound)
	wantProblem(t, h.get(userPath("erase-me", "/consents/history"), storeKey), http.StatusNotFound)
	wantProblem(t, h.do(req{method: "DELETE", path: userPath("erase-me"), auth: storeKey}), http.StatusNotFound)
}

func TestIdentities(t *testing.T) {
	h := newHarness(t)
	h.mustUser("id-a", nil)
	h.mustUser("id-b", nil)
	add := func(user, typ, value string, merge bool) response {
		return h.do(req{method: "POST", path: userPath(user, "/identities"), auth: storeKey,
			body: map[string]any{"type": typ, "value": value, "merge": merge}})
	}
	resolve := func(typ, value string) response {
		return h.get("/v1/identities/"+typ+"/"+url.PathEscape(value), storeKey)
	}

	r := add("id-a", "email", "a@example.com", false)
	want(t, r, http.StatusCreated)
	if ids, _ := r.json(t)["identities"].([]any); len(ids) != 1 {
		t.Errorf("identities after add: %s", r.body)
	}
	r = resolve("email", "a@example.com")
	want(t, r, http.StatusOK)
	if got := r.json(t)["user_id"]; got != "id-a" {
		t.Errorf("resolved to %v", got)
	}
	wantProblem(t, resolve("email", "nobody@example.com"), http.StatusNotFound)
	wantProblem(t, resolve("fax", "123"), http.StatusBadRequest, "type")
	wantProblem(t, add("id-a", "fax", "123", false), http.StatusBadRequest, "type")
	wantProblem(t, add("id-a", "email", "", false), http.StatusBadRequest, "value")

	// The same value on another user conflicts, and says how to merge.
	p := wantProblem(t, add("id-b", "email", "a@example.com", false), http.StatusConflict)
	if p["conflicting_user_id"] != "id-a" || !strings.Contains(p["detail"].(string), `"merge": true`) || problemType(p) != "conflict" {
		t.Errorf("conflict problem: %v", p)
	}
	// Linking it again to its owner is fine.
	want(t, add("id-a", "email", "a@example.com", false), http.StatusCreated)

	// With merge, id-a is merged into id-b.
	h.mustConsent("id-a", map[string]any{"purpose": "marketing", "channel": "sms", "status": "granted"})
	want(t, add("id-b", "email", "a@example.com", true), http.StatusCreated)
	r = resolve("email", "a@example.com")
	want(t, r, http.StatusOK)
	if got := r.json(t)["user_id"]; got != "id-b" {
		t.Errorf("after merge resolved to %v", got)
	}
}

func TestToken(t *testing.T) {
	h := newHarness(t)
	h.mustUser("tok", nil)
	r := h.do(req{method: "POST", path: userPath("tok", "/token"), auth: storeKey})
	want(t, r, http.StatusCreated)
	tok := r.json(t)
	if s, _ := tok["token"].(string); !strings.HasPrefix(s, "hst_") {
		t.Errorf("token %v", tok["token"])
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
}

// TestErasureThenReRegistration: after erasure, a user registered again
// under the same id and identity starts empty — old consents, identities
// and usage log do not come back (invariant 9).
func TestErasureThenReRegistration(t *testing.T) {
	h := newHarness(t)
	h.mustUser("again", map[string]any{"name": "韩梅梅"})
	phone := map[string]any{"type": "phone", "value": "+8613800000000"}
	want(t, h.do(req{method: "POST", path: userPath("again", "/identities"), auth: storeKey, body: phone}), http.StatusCreated)
	h.mustConsent("again", map[string]any{"purpose": "marketing", "channel": "sms", "status": "granted"})

	want(t, h.do(req{method: "DELETE", path: userPath("again"), auth: storeKey}), http.StatusNoContent)
	wantProblem(t, h.get("/v1/identities/phone/%2B8613800000000", storeKey), http.StatusNotFound)

	h.mustUser("again", map[string]any{})
	if got := h.history("again"); len(got) != 0 {
		t.Errorf("history after re-registration = %v, want empty", got)
	}
	r := h.get(userPath("again", "/consents/check?purpose=marketing&channel=sms"), storeKey)
	want(t, r, http.StatusOK)
	if c := r.json(t); c["allowed"] != false || c["reason"] != "no_consent" {
		t.Errorf("check after re-registration = %v, want not allowed, no_consent", c)
	}
	u := h.get(userPath("again"), storeKey).json(t)
	if u["name"] != nil || u["identities"] != nil {
		t.Errorf("user after re-registration = %v, want no name and no identities", u)
	}
	for _, e := range h.activity("again") {
		if e["action"] == "consent_change" {
			t.Errorf("old usage-log entry came back: %v", e)
		}
	}
	want(t, h.do(req{method: "POST", path: userPath("again", "/identities"), auth: storeKey, body: phone}), http.StatusCreated)
}
