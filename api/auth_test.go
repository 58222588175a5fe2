package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"heed/engine"
)

func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	h.mustUser("au1", nil)
	expired, _ := engine.Tokens{Secret: tokenSecret}.Issue("au1", time.Now().Add(-48*time.Hour))
	forged, _ := engine.Tokens{Secret: []byte("another secret")}.Issue("au1", time.Now())
	tests := []struct {
		name, header, challenge string
	}{
		{"no credentials", "", `Bearer realm="heed"`},
		{"not bearer", "Basic dXNlcjpwYXNz", `Bearer realm="heed"`},
		{"bearer without credential", "Bearer ", `Bearer realm="heed"`},
		{"unknown key", "Bearer not-a-key", `Bearer realm="heed", error="invalid_token"`},
		{"garbage token", "Bearer hst_garbage", `Bearer realm="heed", error="invalid_token"`},
		{"expired token", "Bearer " + expired, `Bearer realm="heed", error="invalid_token"`},
		{"forged token", "Bearer " + forged, `Bearer realm="heed", error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(req{method: "GET", path: userPath("au1", "/consents"), header: map[string]string{"Authorization": tt.header}})
			p := wantProblem(t, r, http.StatusUnauthorized)
			if problemType(p) != "unauthenticated" {
				t.Errorf("type %v", p["type"])
			}
			if got := r.header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
		})
	}
	// The scheme is case-insensitive.
	want(t, h.do(req{method: "GET", path: userPath("au1"), header: map[string]string{"Authorization": "bearer " + storeKey}}), http.StatusOK)
}

func TestShopperToken(t *testing.T) {
	h := newHarness(t)
	h.mustUser("alice", nil)
	h.mustUser("bob", nil)
	h.mustConsent("alice", map[string]any{"purpose": "marketing", "channel": "email", "status": "granted"})
	h.mustConsent("bob", map[string]any{"purpose": "marketing", "channel": "sms", "status": "granted"})
	alice := h.mustToken("alice")

	// Her own data: yes.
	r := h.get(userPath("alice", "/consents"), alice)
	want(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), `"channel":"email"`) {
		t.Errorf("own consents: %s", r.body)
	}
	want(t, h.get(userPath("alice", "/consents/check?purpose=marketing&channel=email"), alice), http.StatusOK)
	want(t, h.get(userPath("alice", "/preferences"), alice), http.StatusOK)
	want(t, h.do(req{method: "PATCH", path: userPath("alice", "/preferences"), auth: alice, body: `{"language": "en"}`}), http.StatusOK)
	want(t, h.do(req{method: "POST", path: userPath("alice", "/consents"), auth: alice,
		body: batch(map[string]any{"purpose": "marketing", "channel": "email", "status": "withdrawn"})}), http.StatusCreated)

	// Bob's data: no, whatever the action; each attempt is in Bob's usage log.
	attempts := []req{
		{method: "GET", path: userPath("bob", "/consents")},
		{method: "GET", path: userPath("bob")},
		{method: "POST", path: userPath("bob", "/consents"), body: batch(map[string]any{"purpose": "marketing", "status": "withdrawn"})},
		{method: "PUT", path: userPath("bob", "/preferences"), body: map[string]any{}},
		{method: "GET", path: userPath("bob", "/export")},
		{method: "DELETE", path: userPath("bob")},
	}
	var decisions []string
	for _, a := range attempts {
		a.auth = alice
		p := wantProblem(t, h.do(a), http.StatusForbidden)
		id, _ := p["decision_id"].(string)
		if !strings.HasPrefix(id, "dec_") || problemType(p) != "forbidden" {
			t.Errorf("%s %s: problem %v", a.method, a.path, p)
		}
		decisions = append(decisions, id)
	}
	denied := map[string]bool{}
	for _, e := range h.activity("bob") {
		if e["action"] == "access_denied" && e["actor"] == "shopper" {
			denied[e["decision_id"].(string)] = true
		}
	}
	for i, d := range decisions {
		if !denied[d] {
			t.Errorf("attempt %d (%s) is not in bob's activity as access_denied", i, d)
		}
	}
	if n := len(h.history("bob")); n != 1 {
		t.Errorf("bob's ledger has %d records, want 1", n)
	}
	want(t, h.get(userPath("bob"), storeKey), http.StatusOK)

	// Nor may a shopper act outside user data.
	wantProblem(t, h.get("/v1/policies", alice), http.StatusForbidden)
	wantProblem(t, h.do(req{method: "POST", path: userPath("alice", "/token"), auth: alice}), http.StatusForbidden)

	// The denied decision is logged and readable by admin.
	r = h.waitDecision(decisions[0])
	if d := r.json(t); d["allow"] != false || d["path"] != "heed/authz" {
		t.Errorf("logged denial: %s", r.body)
	}

	// The shopper may erase her own data; the token then reaches nothing.
	want(t, h.do(req{method: "DELETE", path: userPath("alice"), auth: alice}), http.StatusNoContent)
	wantProblem(t, h.get(userPath("alice", "/consents"), alice), http.StatusNotFound)
}

func TestRoles(t *testing.T) {
	h := newHarness(t)
	h.mustUser("r1", nil)
	for _, tt := range []struct {
		name   string
		r      req
		status int
	}{
		{"merchandiser may not read users", req{method: "GET", path: userPath("r1"), auth: merchKey}, 403},
		{"merchandiser may not read consents", req{method: "GET", path: userPath("r1", "/consents"), auth: merchKey}, 403},
		{"merchandiser may read policies", req{method: "GET", path: "/v1/policies", auth: merchKey}, 200},
		{"storefront may not read policies' decisions", req{method: "POST", path: "/v1/decisions", auth: storeKey,
			body: map[string]any{"path": "heed/authz/allow"}}, 403},
		{"storefront may not publish notices", req{method: "PUT", path: "/v1/notices/analytics", auth: storeKey,
			body: map[string]any{"version": "1"}}, 403},
		{"storefront may read notices", req{method: "GET", path: "/v1/notices", auth: storeKey}, 200},
		{"storefront may issue tokens", req{method: "POST", path: userPath("r1", "/token"), auth: storeKey}, 201},
		{"admin may read users", req{method: "GET", path: userPath("r1"), auth: adminKey}, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(tt.r)
			if tt.status == 403 {
				wantProblem(t, r, 403)
				return
			}
			want(t, r, tt.status)
		})
	}
}

// waitDecision reads a logged decision as admin; the log is written
// asynchronously, so it retries briefly.
func (h *harness) waitDecision(id string) response {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := h.get("/v1/decisions/"+id, adminKey)
		if r.status == http.StatusOK || time.Now().After(deadline) {
			want(h.t, r, http.StatusOK)
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
}
