package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// openAPIDoc is the served OpenAPI document, used to check every response
// the tests see against what it promises.
type openAPIDoc struct {
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
	raw map[string]any
}

type operation struct {
	OperationID string                     `json:"operationId"`
	Action      string                     `json:"x-heed-action"`
	Owner       string                     `json:"x-heed-owner"`
	Security    *[]any                     `json:"security"`
	Responses   map[string]openAPIResponse `json:"responses"`
	RequestBody *struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

type openAPIResponse struct {
	Content map[string]struct {
		Schema map[string]any `json:"schema"`
	} `json:"content"`
}

func loadOpenAPI(t *testing.T, base string) *openAPIDoc {
	t.Helper()
	res, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %v", res.StatusCode, err)
	}
	var d openAPIDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if err := json.Unmarshal(raw, &d.raw); err != nil {
		t.Fatal(err)
	}
	return &d
}

// find returns the operation serving method and (escaped) path, preferring
// the template with the most literal segments, as the router does.
func (d *openAPIDoc) find(method, path string) (string, operation, bool) {
	segs := strings.Split(path, "/")
	best, bestLit := "", -1
	var op operation
	for tmpl, ops := range d.Paths {
		o, ok := ops[strings.ToLower(method)]
		if !ok {
			continue
		}
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		lit := 0
		for i, s := range ts {
			switch {
			case strings.HasPrefix(s, "{") && segs[i] != "":
			case s == segs[i]:
				lit++
			default:
				lit = -1
			}
			if lit < 0 {
				break
			}
		}
		if lit > bestLit {
			best, bestLit, op = tmpl, lit, o
		}
	}
	return best, op, bestLit >= 0
}

// check fails the test unless r is what the document says method path
// answers with r's status.
func (d *openAPIDoc) check(t *testing.T, method, path string, r response) {
	t.Helper()
	tmpl, op, ok := d.find(method, path)
	if ok {
		answered.Store(fmt.Sprintf("%s %s %d", method, tmpl, r.status), true)
	}
	var resp openAPIResponse
	switch {
	case !ok: // no such operation: a 404 or 405 problem
		if r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s is not in the OpenAPI document but answered %d", method, path, r.status)
		}
		resp.Content = map[string]struct {
			Schema map[string]any `json:"schema"`
		}{"application/problem+json": {Schema: map[string]any{"$ref": "#/components/schemas/Problem"}}}
	default:
		var found bool
		resp, found = op.Responses[strconv.Itoa(r.status)]
		if !found {
			if r.status < 500 {
				t.Errorf("%s %s answered %d, which the document does not list", method, tmpl, r.status)
			}
			resp = op.Responses["default"]
		}
	}
	if len(resp.Content) == 0 {
		if len(r.body) != 0 {
			t.Errorf("%s %s %d: the document says no body, got %q", method, tmpl, r.status, r.body)
		}
		return
	}
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	c, ok := resp.Content[mt]
	if !ok {
		t.Errorf("%s %s %d: Content-Type %q is not documented", method, tmpl, r.status, mt)
		return
	}
	if !strings.Contains(mt, "json") {
		return
	}
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Errorf("%s %s %d: body is not JSON: %v", method, tmpl, r.status, err)
		return
	}
	for _, e := range d.validate("body", c.Schema, v) {
		t.Errorf("%s %s %d: %s", method, tmpl, r.status, e)
	}
}

// validate checks v against the subset of JSON Schema schemas.json uses.
// An object schema with properties but no additionalProperties is taken as
// closed: every member the server sends must be documented.
func (d *openAPIDoc) validate(at string, s map[string]any, v any) []string {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		target, ok := d.Components.Schemas[name]
		if !ok {
			return []string{at + ": unresolved $ref " + ref}
		}
		return d.validate(at, target, v)
	}
	if alts, ok := s["anyOf"].([]any); ok {
		var errs []string
		for _, alt := range alts {
			e := d.validate(at, alt.(map[string]any), v)
			if len(e) == 0 {
				return nil
			}
			errs = append(errs, e...)
		}
		return []string{fmt.Sprintf("%s: matches no anyOf alternative: %v", at, errs)}
	}
	var errs []string
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, v) {
		errs = append(errs, fmt.Sprintf("%s: %v is not %v", at, v, c))
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	if typ, ok := s["type"]; ok {
		var types []string
		switch tv := typ.(type) {
		case string:
			types = []string{tv}
		case []any:
			for _, x := range tv {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return jsonType(v, t) }) {
			return append(errs, fmt.Sprintf("%s: %s, want %v", at, describe(v), types))
		}
	}
	switch x := v.(type) {
	case string:
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not an RFC 3339 time", at, x))
			}
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s", at, x, p))
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range x {
				errs = append(errs, d.validate(fmt.Sprintf("%s[%d]", at, i), items, e)...)
			}
		}
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := x[r]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required member %q is missing", at, r))
			}
		}
		for k, e := range x {
			if names, ok := s["propertyNames"].(map[string]any); ok {
				errs = append(errs, d.validate(at+" key "+k, names, k)...)
			}
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, d.validate(at+"."+k, ps, e)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case map[string]any:
				errs = append(errs, d.validate(at+"."+k, ap, e)...)
			case bool:
				if !ap {
					errs = append(errs, fmt.Sprintf("%s: member %q is not allowed", at, k))
				}
			case nil:
				if props != nil {
					errs = append(errs, fmt.Sprintf("%s: member %q is not documented", at, k))
				}
			}
		}
	}
	return errs
}

func asStrings(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		out = append(out, x.(string))
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func jsonType(v any, t string) bool {
	switch x := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case float64:
		return t == "number" || t == "integer" && x == float64(int64(x))
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	}
	return false
}

func describe(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		b = append(b[:60], "..."...)
	}
	return string(b)
}

// TestOpenAPICoversRouter walks the router: every route is described with
// its method, and every described operation is routed.
func TestOpenAPICoversRouter(t *testing.T) {
	h := newHarness(t)
	routes := h.handler.(*gin.Engine).Routes()
	routed := map[string]bool{}
	for _, r := range routes {
		p := ginToOpenAPI(r.Path)
		routed[r.Method+" "+p] = true
		if _, ok := h.doc.Paths[p][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s is not in the OpenAPI document", r.Method, r.Path)
		}
	}
	n := 0
	for p, ops := range h.doc.Paths {
		for m := range ops {
			n++
			if !routed[strings.ToUpper(m)+" "+p] {
				t.Errorf("the OpenAPI document describes %s %s, which is not routed", strings.ToUpper(m), p)
			}
		}
	}
	if n != len(routes) {
		t.Errorf("%d operations described, %d routes", n, len(routes))
	}
}

func ginToOpenAPI(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segs[i] = "{" + name + "}"
		}
	}
	return strings.Join(segs, "/")
}

// TestOpenAPIDocument checks the document's own consistency: every $ref
// resolves, every /v1 operation names its authz action (all of them used),
// per-user paths name their owner, public ones need no credentials.
func TestOpenAPIDocument(t *testing.T) {
	h := newHarness(t)
	if v := h.doc.raw["openapi"]; v != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", v)
	}
	var refs func(at string, v any)
	refs = func(at string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "$ref" {
					ref := e.(string)
					name, ok := strings.CutPrefix(ref, "#/components/schemas/")
					if _, found := h.doc.Components.Schemas[name]; ok && !found {
						t.Errorf("%s: unresolved %s", at, ref)
					}
					continue
				}
				refs(at+"/"+k, e)
			}
		case []any:
			for i, e := range x {
				refs(fmt.Sprintf("%s/%d", at, i), e)
			}
		}
	}
	refs("#", h.doc.raw)

	wantActions := []string{"users.read", "users.write", "users.export", "users.erase", "identities.read",
		"identities.write", "consents.read", "consents.write", "preferences.read", "preferences.write",
		"interests.read", "interests.write", "activity.read", "tokens.issue", "notices.read", "notices.write",
		"policies.read", "policies.write", "decisions.read", "decisions.query",
		"items.write", "events.write", "recommendations.read", "recommender.read", "recommender.train",
		"campaigns.read", "campaigns.write", "worker.run", "session.read"}
	used := map[string]bool{}
	ids := map[string]bool{}
	for p, ops := range h.doc.Paths {
		for m, op := range ops {
			if ids[op.OperationID] {
				t.Errorf("operationId %q is used twice", op.OperationID)
			}
			ids[op.OperationID] = true
			v1 := strings.HasPrefix(p, "/v1/")
			switch {
			case v1 && op.Action == "":
				t.Errorf("%s %s has no x-heed-action", m, p)
			case v1 && !slices.Contains(wantActions, op.Action):
				t.Errorf("%s %s: unknown action %q", m, p, op.Action)
			case !v1 && (op.Security == nil || len(*op.Security) != 0):
				t.Errorf("%s %s should need no credentials", m, p)
			}
			used[op.Action] = true
			if strings.HasPrefix(p, "/v1/users/{id}") && op.Owner != "id" {
				t.Errorf("%s %s touches one user's data but names owner %q", m, p, op.Owner)
			}
			if v1 {
				for _, code := range []string{"401", "403"} {
					if _, ok := op.Responses[code]; !ok {
						t.Errorf("%s %s does not list %s", m, p, code)
					}
				}
			}
		}
	}
	for _, a := range wantActions {
		if !used[a] {
			t.Errorf("no route uses action %q", a)
		}
	}
}
