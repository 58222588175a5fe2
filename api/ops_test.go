package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestHealthAndReady(t *testing.T) {
	h := newHarness(t)
	r := h.get("/healthz", "")
	want(t, r, http.StatusOK)
	if string(r.body) != `{"status":"ok"}` {
		t.Errorf("healthz: %s", r.body)
	}
	r = h.get("/readyz", "")
	want(t, r, http.StatusOK)
	if string(r.body) != `{"checks":{"badger":"ok"},"status":"ok"}` {
		t.Errorf("readyz: %s", r.body)
	}
}

func TestReadyFails(t *testing.T) {
	h := newHarnessWith(t, harnessOptions{ready: map[string]func(context.Context) error{
		"badger": func(context.Context) error { return nil },
		"redis":  func(context.Context) error { return errors.New("dial tcp 10.0.0.1:6379: connection refused") },
		"slow": func(ctx context.Context) error {
			<-ctx.Done() // answers only when the 2 s timeout ends it
			return ctx.Err()
		},
	}})
	r := h.get("/readyz", "")
	p := wantProblem(t, r, http.StatusServiceUnavailable)
	checks := p["checks"].(map[string]any)
	if checks["badger"] != "ok" || checks["redis"] != "failed" || checks["slow"] != "timed out" {
		t.Errorf("checks: %v", checks)
	}
	if d := p["detail"].(string); !strings.Contains(d, "redis") || !strings.Contains(d, "slow") || strings.Contains(d, "10.0.0.1") {
		t.Errorf("detail %q should name the failed checks and not their errors", d)
	}
	if !strings.Contains(h.logs.String(), "connection refused") {
		t.Error("the failed check's error is not logged")
	}
}

func TestMetricsAndAccessLog(t *testing.T) {
	h := newHarness(t)
	const id = "metric-用户-42"
	h.mustUser(id, map[string]any{"name": "Wang Fang"})
	h.get(userPath(id), storeKey)
	h.get(userPath("nobody-here"), storeKey)
	h.get("/no/such/route", "")

	r := h.get("/metrics", "")
	want(t, r, http.StatusOK)
	m := string(r.body)
	for _, s := range []string{
		`heed_http_requests_total{method="GET",route="/v1/users/:id",status="200"} 1`,
		`heed_http_requests_total{method="GET",route="/v1/users/:id",status="404"} 1`,
		`heed_http_requests_total{method="PUT",route="/v1/users/:id",status="200"} 1`,
		`heed_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`heed_http_request_duration_seconds_bucket{method="GET",route="/v1/users/:id"`,
		"go_goroutines", "process_",
	} {
		if !strings.Contains(m, s) {
			t.Errorf("metrics lack %s", s)
		}
	}
	if strings.Contains(m, "metric-") || strings.Contains(m, "nobody-here") {
		t.Error("metrics hold a user id")
	}

	var lines int
	for line := range strings.Lines(h.logs.String()) {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil || e["msg"] != "http request" {
			continue
		}
		lines++
		if strings.Contains(line, "metric-") || strings.Contains(line, "用户") || strings.Contains(line, "nobody-here") ||
			strings.Contains(line, "Wang Fang") {
			t.Errorf("access log line holds personal data: %s", line)
		}
		for _, k := range []string{"request_id", "method", "route", "status", "duration"} {
			if _, ok := e[k]; !ok {
				t.Errorf("access log line lacks %s: %s", k, line)
			}
		}
	}
	if lines < 5 {
		t.Errorf("%d access log lines, want at least 5", lines)
	}
}

func TestRequestID(t *testing.T) {
	h := newHarness(t)
	r := h.do(req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "edge-1234.abc"}})
	if got := r.header.Get("X-Request-Id"); got != "edge-1234.abc" {
		t.Errorf("X-Request-Id %q, want the caller's", got)
	}
	r = h.do(req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "bad id\twith spaces"}})
	if got := r.header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Errorf("X-Request-Id %q, want a fresh one", got)
	}
	p := wantProblem(t, h.do(req{method: "GET", path: "/v1/nothing", header: map[string]string{"X-Request-Id": "trace-9"}}), http.StatusNotFound)
	if p["instance"] != "urn:req:trace-9" {
		t.Errorf("instance %v", p["instance"])
	}
}

func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t)
	r := h.get("/openapi.json", "")
	want(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}
