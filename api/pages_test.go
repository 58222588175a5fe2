package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// cookies returns the Cookie header a browser would send after r.
func cookies(r response) (header, csrf string) {
	var parts []string
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
		if c.Name == "heed_csrf" {
			csrf = c.Value
		}
	}
	return strings.Join(parts, "; "), csrf
}

func TestPagesServeNoData(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/me", "/console"} {
		r := h.get(p, "")
		want(t, r, http.StatusOK)
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", p, csp)
		}
	}
	r := h.get("/assets/me.js", "")
	want(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("me.js Content-Type %q", ct)
	}
	want(t, h.get("/assets/heed.css", ""), http.StatusOK)
	wantProblem(t, h.get("/assets/nope.js", ""), http.StatusNotFound)
	wantProblem(t, h.get("/v1/session", ""), http.StatusUnauthorized)
}

// A shopper signs in with a token: the session cookie is HttpOnly, reaches
// only the shopper's own data, and changes need the CSRF header.
func TestShopperSession(t *testing.T) {
	h := newHarness(t)
	h.mustUser("ann", nil)
	h.mustUser("bob", nil)
	tok := h.mustToken("ann")

	wantProblem(t, h.do(req{method: "POST", path: "/me/session", body: `{"token":"hst_forged.x"}`}), http.StatusUnauthorized)
	wantProblem(t, h.do(req{method: "POST", path: "/me/session", body: `{"token":"` + tok + `"}`,
		header: map[string]string{"Origin": "https://evil.example"}}), http.StatusForbidden)
	r := h.do(req{method: "POST", path: "/me/session", body: `{"token":"` + tok + `"}`})
	want(t, r, http.StatusNoContent)
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "heed_session" && (!c.HttpOnly || c.SameSite != http.SameSiteStrictMode || strings.Contains(c.Value, tok)) {
			t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, and not the token", c)
		}
	}
	jar, csrf := cookies(r)
	if csrf == "" {
		t.Fatal("no CSRF cookie")
	}
	withCookie := map[string]string{"Cookie": jar}
	r = h.do(req{method: "GET", path: "/v1/session", header: withCookie})
	want(t, r, http.StatusOK)
	if m := r.json(t); m["role"] != "shopper" || m["user_id"] != "ann" {
		t.Errorf("session: %s", r.body)
	}
	want(t, h.do(req{method: "GET", path: userPath("ann", "/preferences"), header: withCookie}), http.StatusOK)
	wantProblem(t, h.do(req{method: "GET", path: userPath("bob", "/preferences"), header: withCookie}), http.StatusForbidden)

	patch := `{"quiet_hours":{"start":"22:00","end":"07:00"}}`
	wantProblem(t, h.do(req{method: "PATCH", path: userPath("ann", "/preferences"), body: patch, header: withCookie}), http.StatusForbidden)
	wantProblem(t, h.do(req{method: "PATCH", path: userPath("ann", "/preferences"), body: patch,
		header: map[string]string{"Cookie": jar, "X-CSRF-Token": "wrong"}}), http.StatusForbidden)
	want(t, h.do(req{method: "PATCH", path: userPath("ann", "/preferences"), body: patch,
		header: map[string]string{"Cookie": jar, "X-CSRF-Token": csrf}}), http.StatusOK)

	r = h.do(req{method: "POST", path: "/session/delete", header: withCookie})
	want(t, r, http.StatusNoContent)
	if c, _ := cookies(r); !strings.Contains(c, "heed_session=") {
		t.Errorf("sign-out did not clear the session cookie: %v", r.header)
	}
	wantProblem(t, h.do(req{method: "GET", path: "/v1/session", header: map[string]string{"Cookie": "heed_session=hss_forged.x"}}), http.StatusUnauthorized)
}

// The storefront's link /me?token=... signs the shopper in and sends the
// browser on to /me, the token no longer in the address.
func TestMeTokenLinkRedirects(t *testing.T) {
	h := newHarness(t)
	h.mustUser("ann", nil)
	tok := h.mustToken("ann")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(h.url + "/me?token=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/me" {
		t.Fatalf("GET /me?token= = %d to %q, want 303 to /me", res.StatusCode, res.Header.Get("Location"))
	}
	var found bool
	for _, c := range res.Cookies() {
		found = found || c.Name == "heed_session" && c.HttpOnly
	}
	if !found {
		t.Error("no session cookie")
	}
}

// The console takes merchandiser, marketing and admin keys, not a
// storefront's.
func TestConsoleSession(t *testing.T) {
	h := newHarness(t)
	wantProblem(t, h.do(req{method: "POST", path: "/console/session", body: `{"key":"` + storeKey + `"}`}), http.StatusForbidden)
	wantProblem(t, h.do(req{method: "POST", path: "/console/session", body: `{"key":"no-such-key-0123456789"}`}), http.StatusUnauthorized)
	r := h.do(req{method: "POST", path: "/console/session", body: `{"key":"` + merchKey + `"}`})
	want(t, r, http.StatusNoContent)
	jar, csrf := cookies(r)
	r = h.do(req{method: "GET", path: "/v1/campaigns", header: map[string]string{"Cookie": jar}})
	want(t, r, http.StatusOK)
	r = h.do(req{method: "POST", path: "/v1/campaigns", body: campaignBody(nil), header: map[string]string{"Cookie": jar, "X-CSRF-Token": csrf}})
	want(t, r, http.StatusCreated)
	wantProblem(t, h.do(req{method: "GET", path: userPath("ann"), header: map[string]string{"Cookie": jar}}), http.StatusForbidden)
}
