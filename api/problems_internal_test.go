package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

// serve runs h behind the server's middleware and returns the response.
func serve(t *testing.T, h gin.HandlerFunc) (*httptest.ResponseRecorder, string) {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := gin.New()
	r.Use(withRequestID(), problems(log), recovery(log))
	r.GET("/x", h)
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("X-Request-Id", "req-1")
	r.ServeHTTP(w, req)
	return w, logs.String()
}

// TestFailureLogNamesNoShopper: a failed request on a shopper's route logs
// its error without the shopper's id; elsewhere the error stays whole.
func TestFailureLogNamesNoShopper(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := gin.New()
	r.Use(withRequestID(), problems(log), recovery(log))
	fail := func(c *gin.Context) { _ = c.Error(fmt.Errorf("events of %s: disk on fire", c.Param("id"))) }
	r.GET("/v1/users/:id/recommendations", fail)
	r.GET("/v1/items/:id/similar", fail)
	for _, path := range []string{"/v1/users/shopper-417/recommendations", "/v1/items/sku-9/similar"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	out := logs.String()
	if strings.Contains(out, "shopper-417") || !strings.Contains(out, "events of <user>: disk on fire") {
		t.Errorf("the shopper's route logged:\n%s", out)
	}
	if !strings.Contains(out, "events of sku-9: disk on fire") {
		t.Errorf("the item route lost its error:\n%s", out)
	}
}

func TestProblemTable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want problem
	}{
		{"validation", engine.Invalid("records[1].channel", "unknown channel"), problem{
			Type: problemBase + "invalid", Title: "Invalid input", Status: 400,
			Detail: "invalid input: records[1].channel: unknown channel",
			Errors: []fieldError{{Field: "records[1].channel", Message: "unknown channel"}}}},
		{"denied", fmt.Errorf("authorize: %w", &engine.DeniedError{DecisionID: "dec_1", Reasons: []string{"nope"}}), problem{
			Type: problemBase + "forbidden", Title: "Forbidden", Status: 403,
			Detail: "authorize: denied by policy (decision dec_1): nope", DecisionID: "dec_1", Errors: []fieldError{}}},
		{"identity conflict", &engine.IdentityConflict{Owner: "u9"}, problem{
			Type: problemBase + "conflict", Title: "Conflict", Status: 409, ConflictingUserID: "u9", Errors: []fieldError{},
			Detail: `the identity belongs to another user; send "merge": true to merge that user into this one`}},
		{"no consent", fmt.Errorf("send: %w", engine.ErrNoConsent), problem{
			Type: problemBase + "consent-required", Title: "Consent required", Status: 409, Detail: "send: no consent", Errors: []fieldError{}}},
		{"stale", engine.ErrStale, problem{Type: problemBase + "stale", Title: "Version mismatch", Status: 412, Detail: "stale version", Errors: []fieldError{}}},
		{"policy", &engine.PolicyError{Errors: []string{"authz.rego:3: rego_parse_error"}}, problem{
			Type: problemBase + "policy-rejected", Title: "Policy rejected", Status: 422,
			Detail: "policy rejected: authz.rego:3: rego_parse_error",
			Errors: []fieldError{{Field: "body", Message: "authz.rego:3: rego_parse_error"}}}},
		{"unavailable", fmt.Errorf("redis: %w", engine.ErrUnavailable), problem{
			Type: problemBase + "unavailable", Title: "Service unavailable", Status: 503, Detail: "redis: unavailable", Errors: []fieldError{}}},
		{"unknown", errors.New("disk on fire at /var/lib/heed"), problem{
			Type: "about:blank", Title: "Internal Server Error", Status: 500, Errors: []fieldError{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, logs := serve(t, func(c *gin.Context) { fail(c, tt.err) })
			if w.Code != tt.want.Status || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
			}
			var got problem
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			tt.want.Instance = "urn:req:req-1"
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problem (-want +got):\n%s", diff)
			}
			if tt.want.Status == 500 && (!strings.Contains(logs, "disk on fire") || !strings.Contains(logs, "req-1")) {
				t.Errorf("a 500 is not logged with its error and request id: %s", logs)
			}
		})
	}
}

func TestRecovery(t *testing.T) {
	w, logs := serve(t, func(c *gin.Context) { panic("boom at /secret/path") })
	if w.Code != 500 || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
	}
	if strings.Contains(w.Body.String(), "boom") || strings.Contains(w.Body.String(), "detail") {
		t.Errorf("the panic leaks: %s", w.Body.String())
	}
	if !strings.Contains(logs, "boom") || !strings.Contains(logs, "req-1") {
		t.Errorf("the panic is not logged: %s", logs)
	}
}

func TestIfMatch(t *testing.T) {
	for h, want := range map[string]int{"": engine.AnyVersion, "*": engine.AnyVersion, "3": 3, `"3"`: 3, ` "12" `: 12} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/", nil)
		c.Request.Header.Set("If-Match", h)
		got, err := ifMatch(c)
		if err != nil || got != want {
			t.Errorf("If-Match %q: %d, %v; want %d", h, got, err, want)
		}
	}
	for _, h := range []string{`"3`, "3.0", "+3", "-1", `W/"3"`, `"3", "4"`, "x"} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/", nil)
		c.Request.Header.Set("If-Match", h)
		if _, err := ifMatch(c); !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("If-Match %q: err %v, want ErrInvalid", h, err)
		}
	}
}
