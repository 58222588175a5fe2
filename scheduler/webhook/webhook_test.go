package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/changes"
	"heed/engine"
	"heed/scheduler"
	"heed/scheduler/webhook"
)

var (
	secret = []byte("test-webhook-secret-0123")
	now    = time.Date(2026, 2, 28, 10, 0, 0, 0, time.UTC)
)

func testMessage() scheduler.Message {
	return scheduler.Message{
		DeliveryID:     "dlv_1",
		IdempotencyKey: "cmp_1/2026-02-28/u_42",
		CampaignID:     "cmp_1",
		User:           engine.UserID("u_42"),
		Channel:        engine.ChannelPush,
		To:             "shopper@example.com",
		Offer:          json.RawMessage(`{"type":"discount","percent_off":15}`),
		Title:          "会员专享 15% 折扣",
		Body:           "你好，小明：本周末全场 85 折。",
		UnsubscribeURL: "https://heed.example/u/tok_secret",
		SentAt:         now.Add(-time.Minute),
	}
}

type request struct {
	header http.Header
	body   []byte
}

// recorder is a webhook endpoint that answers each request with status
// (and header) and keeps what it got.
type recorder struct {
	mu     sync.Mutex
	got    []request
	status int
	header http.Header
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, request{header: req.Header.Clone(), body: body})
	r.mu.Unlock()
	for k, vs := range r.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(r.status)
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got
}

func newEndpoint(t *testing.T, status int, header http.Header) (*recorder, string) {
	t.Helper()
	rec := &recorder{status: status, header: header}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv.URL + "/hooks/heed?token=endpoint-token"
}

func newSender(url string) *webhook.Sender {
	return webhook.New(webhook.Options{URL: url, Secret: secret, Now: func() time.Time { return now }})
}

func TestSendSignedJSON(t *testing.T) {
	rec, url := newEndpoint(t, http.StatusOK, nil)
	m := testMessage()
	if err := newSender(url).Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := rec.requests()
	if len(got) != 1 {
		t.Fatalf("endpoint got %d requests, want 1", len(got))
	}
	req := got[0]

	if ct := req.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if k := req.header.Get("Idempotency-Key"); k != m.IdempotencyKey {
		t.Errorf("Idempotency-Key = %q, want %q", k, m.IdempotencyKey)
	}
	sig := req.header.Get(changes.SignatureHeader)
	if err := changes.Verify(secret, sig, req.body, 5*time.Minute, now); err != nil {
		t.Errorf("Verify(%q): %v", sig, err)
	}
	if err := changes.Verify([]byte("another secret"), sig, req.body, 0, now); !errors.Is(err, changes.ErrBadSignature) {
		t.Errorf("Verify with the wrong secret = %v, want ErrBadSignature", err)
	}

	var body map[string]any
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, req.body)
	}
	want := map[string]any{
		"delivery_id":     "dlv_1",
		"idempotency_key": "cmp_1/2026-02-28/u_42",
		"campaign_id":     "cmp_1",
		"user_id":         "u_42",
		"channel":         "push",
		"offer":           map[string]any{"type": "discount", "percent_off": 15.0},
		"message":         map[string]any{"title": "会员专享 15% 折扣", "body": "你好，小明：本周末全场 85 折。"},
		"unsubscribe_url": "https://heed.example/u/tok_secret",
		"sent_at":         "2026-02-28T09:59:00Z",
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if strings.Contains(string(req.body), "shopper@example.com") {
		t.Errorf("body carries the To address: %s", req.body)
	}
}

func TestSendDefaults(t *testing.T) {
	t.Run("SentAtZero", func(t *testing.T) {
		rec, url := newEndpoint(t, http.StatusNoContent, nil)
		m := testMessage()
		m.SentAt = time.Time{}
		m.Offer = nil
		if err := newSender(url).Send(t.Context(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		var body struct {
			SentAt time.Time       `json:"sent_at"`
			Offer  json.RawMessage `json:"offer"`
		}
		if err := json.Unmarshal(rec.requests()[0].body, &body); err != nil {
			t.Fatal(err)
		}
		if !body.SentAt.Equal(now) {
			t.Errorf("sent_at = %v, want now (%v)", body.SentAt, now)
		}
		if string(body.Offer) != "null" {
			t.Errorf("offer = %s, want null", body.Offer)
		}
	})
	t.Run("RealClock", func(t *testing.T) {
		rec, url := newEndpoint(t, http.StatusOK, nil)
		s := webhook.New(webhook.Options{URL: url, Secret: secret})
		if err := s.Send(t.Context(), testMessage()); err != nil {
			t.Fatalf("Send: %v", err)
		}
		req := rec.requests()[0]
		if err := changes.Verify(secret, req.header.Get(changes.SignatureHeader), req.body, time.Minute, time.Now()); err != nil {
			t.Errorf("Verify against the clock: %v", err)
		}
	})
}

func TestSendClassification(t *testing.T) {
	date := now.Add(30 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		wantErr    bool
		wantRetry  bool
		wantAfter  time.Duration
	}{
		{name: "200", status: 200},
		{name: "202", status: 202},
		{name: "400", status: 400, wantErr: true},
		{name: "404", status: 404, wantErr: true},
		{name: "410", status: 410, wantErr: true},
		{name: "302", status: 302, wantErr: true},
		{name: "429", status: 429, wantErr: true, wantRetry: true},
		{name: "429RetryAfterSeconds", status: 429, retryAfter: "7", wantErr: true, wantRetry: true, wantAfter: 7 * time.Second},
		{name: "429RetryAfterDate", status: 429, retryAfter: date, wantErr: true, wantRetry: true, wantAfter: 30 * time.Second},
		{name: "429RetryAfterPast", status: 429, retryAfter: now.Add(-time.Hour).Format(http.TimeFormat), wantErr: true, wantRetry: true},
		{name: "429RetryAfterCapped", status: 429, retryAfter: "86400", wantErr: true, wantRetry: true, wantAfter: time.Hour},
		{name: "429RetryAfterHuge", status: 429, retryAfter: "99999999999999999", wantErr: true, wantRetry: true, wantAfter: time.Hour},
		{name: "429RetryAfterGarbage", status: 429, retryAfter: "soon", wantErr: true, wantRetry: true},
		{name: "500", status: 500, wantErr: true, wantRetry: true},
		{name: "503RetryAfter", status: 503, retryAfter: "120", wantErr: true, wantRetry: true, wantAfter: 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h http.Header
			if tt.retryAfter != "" {
				h = http.Header{"Retry-After": {tt.retryAfter}}
			}
			if tt.status == 302 {
				h = http.Header{"Location": {"http://127.0.0.1:1/elsewhere"}}
			}
			rec, url := newEndpoint(t, tt.status, h)
			err := newSender(url).Send(t.Context(), testMessage())
			if n := len(rec.requests()); n != 1 {
				t.Errorf("endpoint got %d requests, want 1 (one attempt per Send)", n)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Send = %v, want error: %t", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			retry, after := scheduler.Retryable(err)
			if retry != tt.wantRetry || after != tt.wantAfter {
				t.Errorf("Retryable(%v) = %t, %s; want %t, %s", err, retry, after, tt.wantRetry, tt.wantAfter)
			}
			var se *webhook.StatusError
			if !errors.As(err, &se) || se.Code != tt.status {
				t.Errorf("Send = %v, want a *StatusError with code %d", err, tt.status)
			}
			if !strings.Contains(err.Error(), tt.name[:3]) {
				t.Errorf("error %q does not name the status", err)
			}
			assertNoPersonalData(t, err)
		})
	}
}

func assertNoPersonalData(t *testing.T, err error) {
	t.Helper()
	m := testMessage()
	for _, s := range []string{m.Title, m.Body, m.To, "u_42", "tok_secret", "endpoint-token"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err, s)
		}
	}
}

func TestSendNetworkErrors(t *testing.T) {
	t.Run("ConnectionRefused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		err = newSender("http://"+addr+"/hook?token=endpoint-token").Send(t.Context(), testMessage())
		if retry, _ := scheduler.Retryable(err); !retry {
			t.Fatalf("Send = %v, want a RetryError", err)
		}
		assertNoPersonalData(t, err)
	})
	t.Run("Timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // so that the server notices the client leaving
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		s := webhook.New(webhook.Options{URL: srv.URL + "/?token=endpoint-token", Secret: secret,
			Client: &http.Client{Timeout: 50 * time.Millisecond}})
		err := s.Send(t.Context(), testMessage())
		if retry, _ := scheduler.Retryable(err); !retry {
			t.Fatalf("Send = %v, want a RetryError", err)
		}
		assertNoPersonalData(t, err)
	})
	t.Run("ContextCanceled", func(t *testing.T) {
		arrived := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // so that the server notices the client leaving
			close(arrived)
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}))
		t.Cleanup(srv.Close)
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-arrived; cancel() }()
		start := time.Now()
		err := newSender(srv.URL).Send(ctx, testMessage())
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v, want context.Canceled", err)
		}
		if retry, _ := scheduler.Retryable(err); !retry {
			t.Errorf("Send = %v, want a RetryError", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Send took %s after cancel", d)
		}
	})
}

func TestSendPermanentWithoutRequest(t *testing.T) {
	tests := []struct {
		name string
		opts func(*webhook.Options)
		msg  func(*scheduler.Message)
	}{
		{name: "NoURL", opts: func(o *webhook.Options) { o.URL = "" }},
		{name: "BadURL", opts: func(o *webhook.Options) { o.URL = "http://[::1" }},
		{name: "NoSecret", opts: func(o *webhook.Options) { o.Secret = nil }},
		{name: "NoIdempotencyKey", msg: func(m *scheduler.Message) { m.IdempotencyKey = "" }},
		{name: "IdempotencyKeyInjection", msg: func(m *scheduler.Message) { m.IdempotencyKey = "k\r\nX-Evil: 1" }},
		{name: "NoUnsubscribeURL", msg: func(m *scheduler.Message) { m.UnsubscribeURL = "" }},
		{name: "BadOffer", msg: func(m *scheduler.Message) { m.Offer = json.RawMessage(`{"u_42": `) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, url := newEndpoint(t, http.StatusOK, nil)
			o := webhook.Options{URL: url, Secret: secret}
			m := testMessage()
			if tt.opts != nil {
				tt.opts(&o)
			}
			if tt.msg != nil {
				tt.msg(&m)
			}
			err := webhook.New(o).Send(t.Context(), m)
			if err == nil {
				t.Fatal("Send = nil, want an error")
			}
			if retry, _ := scheduler.Retryable(err); retry {
				t.Errorf("Send = %v, want a permanent error", err)
			}
			if n := len(rec.requests()); n != 0 {
				t.Errorf("endpoint got %d requests, want none", n)
			}
			assertNoPersonalData(t, err)
		})
	}
}
