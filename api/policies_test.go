package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestPolicies(t *testing.T) {
	h := newHarness(t)
	h.mustUser("pol1", nil)
	r := h.get("/v1/policies", adminKey)
	want(t, r, http.StatusOK)
	var set struct {
		Revision string            `json:"revision"`
		Modules  map[string]string `json:"modules"`
	}
	r.decode(t, &set)
	authz, ok := set.Modules["authz"]
	if set.Revision == "" || !ok || !strings.Contains(authz, "package heed.authz") {
		t.Fatalf("policies: revision %q, modules %d", set.Revision, len(set.Modules))
	}

	// The storefront may not change policies.
	wantProblem(t, h.do(req{method: "PUT", path: "/v1/policies/authz", auth: storeKey, body: authz,
		header: map[string]string{"Content-Type": "text/plain"}}), http.StatusForbidden)

	// A syntax error is refused with the errors listed; the old set stays.
	r = h.do(req{method: "PUT", path: "/v1/policies/authz", auth: adminKey, body: "package heed.authz\n\nallow if {\n",
		header: map[string]string{"Content-Type": "text/plain"}})
	p := wantProblem(t, r, http.StatusUnprocessableEntity)
	if errs := p["errors"].([]any); len(errs) == 0 || problemType(p) != "policy-rejected" {
		t.Errorf("policy problem: %s", r.body)
	}
	r = h.get("/v1/policies", adminKey)
	var after struct {
		Revision string            `json:"revision"`
		Modules  map[string]string `json:"modules"`
	}
	r.decode(t, &after)
	if after.Revision != set.Revision || after.Modules["authz"] != authz {
		t.Errorf("a refused policy changed the set: revision %q -> %q", set.Revision, after.Revision)
	}
	// ... and still decides: the storefront reads users, the merchandiser does not.
	want(t, h.get(userPath("pol1"), storeKey), http.StatusOK)
	wantProblem(t, h.get(userPath("pol1"), merchKey), http.StatusForbidden)

	// A policy that breaks the set's Rego tests is refused too.
	r = h.do(req{method: "PUT", path: "/v1/policies/authz", auth: adminKey,
		body: map[string]any{"rego": "package heed.authz\n\nallow := true\n\ndecision := {\"allow\": true, \"reasons\": set()}\n"}})
	wantProblem(t, r, http.StatusUnprocessableEntity)
	wantProblem(t, h.get(userPath("pol1"), merchKey), http.StatusForbidden)

	// A valid change, as text or JSON, takes effect.
	changed := authz + "\n# reviewed\n"
	r = h.do(req{method: "PUT", path: "/v1/policies/authz", auth: adminKey, body: changed,
		header: map[string]string{"Content-Type": "text/plain; charset=utf-8"}})
	want(t, r, http.StatusOK)
	rev := r.json(t)["revision"]
	if rev == "" || rev == set.Revision {
		t.Errorf("revision after a change: %v (was %q)", rev, set.Revision)
	}
	r = h.do(req{method: "PUT", path: "/v1/policies/authz", auth: adminKey, body: map[string]any{"rego": authz}})
	want(t, r, http.StatusOK)
	if r.json(t)["revision"] != set.Revision {
		t.Errorf("restoring the module did not restore the revision: %s", r.body)
	}

	for _, tt := range []struct {
		name  string
		path  string
		body  any
		ct    string
		field string
	}{
		{"bad module name", "/v1/policies/Bad-Name", "package x", "text/plain", "name"},
		{"empty text", "/v1/policies/authz", "", "text/plain", "body"},
		{"empty JSON rego", "/v1/policies/authz", `{"rego": ""}`, "application/json", "rego"},
		{"unknown JSON field", "/v1/policies/authz", `{"text": "package x"}`, "application/json", "text"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(req{method: "PUT", path: tt.path, auth: adminKey, body: tt.body, header: map[string]string{"Content-Type": tt.ct}})
			wantProblem(t, r, http.StatusBadRequest, tt.field)
		})
	}
}

func TestDecisions(t *testing.T) {
	h := newHarness(t)
	input := map[string]any{"role": "storefront", "action": "users.read", "owner": "u1"}
	r := h.do(req{method: "POST", path: "/v1/decisions", auth: adminKey, body: map[string]any{"path": "heed/authz/allow", "input": input}})
	want(t, r, http.StatusOK)
	res := r.json(t)
	id, _ := res["decision_id"].(string)
	if res["result"] != true || !strings.HasPrefix(id, "dec_") {
		t.Fatalf("decision: %s", r.body)
	}
	r = h.do(req{method: "POST", path: "/v1/decisions", auth: adminKey,
		body: map[string]any{"path": "data.heed.authz.decision", "input": map[string]any{"role": "merchandiser", "action": "users.read", "owner": "u1"}}})
	want(t, r, http.StatusOK)
	if d := r.json(t)["result"].(map[string]any); d["allow"] != false || len(d["reasons"].([]any)) == 0 {
		t.Errorf("decision document: %s", r.body)
	}

	r = h.waitDecision(id)
	d := r.json(t)
	if d["decision_id"] != id || d["path"] != "heed/authz/allow" || d["result"] != true || d["revision"] == "" {
		t.Errorf("logged decision: %s", r.body)
	}
	if in := d["input"].(map[string]any); in["action"] != "users.read" {
		t.Errorf("logged input: %v", in)
	}

	wantProblem(t, h.get("/v1/decisions/dec_unknown", adminKey), http.StatusNotFound)
	wantProblem(t, h.do(req{method: "POST", path: "/v1/decisions", auth: adminKey, body: map[string]any{"input": input}}), http.StatusBadRequest, "path")
	wantProblem(t, h.do(req{method: "POST", path: "/v1/decisions", auth: adminKey, body: map[string]any{"path": "heed/no such"}}), http.StatusBadRequest, "path")
	wantProblem(t, h.do(req{method: "POST", path: "/v1/decisions", auth: adminKey, body: `{"path": 1}`}), http.StatusBadRequest, "path")
	wantProblem(t, h.get("/v1/decisions/"+id, storeKey), http.StatusForbidden)

	// The newest decisions, newest first, for the console's admin view.
	r = h.get("/v1/decisions?limit=30", adminKey)
	want(t, r, http.StatusOK)
	var recent struct {
		Decisions []map[string]any `json:"decisions"`
	}
	r.decode(t, &recent)
	if len(recent.Decisions) < 5 || len(recent.Decisions) > 30 {
		t.Fatalf("recent decisions: %s", r.body)
	}
	if !slices.ContainsFunc(recent.Decisions, func(d map[string]any) bool { return d["decision_id"] == id }) {
		t.Errorf("the newest decisions lack %s: %s", id, r.body)
	}
	wantProblem(t, h.get("/v1/decisions?limit=0", adminKey), http.StatusBadRequest, "limit")
	wantProblem(t, h.get("/v1/decisions", merchKey), http.StatusForbidden)
}
