package changes_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"heed/changes"
	"heed/engine"
)

var secret = []byte("test-webhook-secret-0123")

// fakeOutbox is an in-memory Outbox, as the Badger store keeps it.
type fakeOutbox struct {
	mu      sync.Mutex
	items   map[string]engine.OutboxItem // due or waiting
	dead    map[string]engine.OutboxItem
	done    map[string]int                 // completions per id
	retries map[string][]engine.OutboxItem // every RetryOutbox call per id
}

func newFakeOutbox(items ...engine.OutboxItem) *fakeOutbox {
	o := &fakeOutbox{items: map[string]engine.OutboxItem{}, dead: map[string]engine.OutboxItem{},
		done: map[string]int{}, retries: map[string][]engine.OutboxItem{}}
	for _, it := range items {
		o.items[it.ID] = it
	}
	return o
}

func (o *fakeOutbox) add(it engine.OutboxItem) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.items[it.ID] = it
}

func (o *fakeOutbox) DueOutbox(ctx context.Context, now time.Time, limit int) ([]engine.OutboxItem, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var due []engine.OutboxItem
	for _, it := range o.items {
		if !it.NextAt.After(now) {
			due = append(due, it)
		}
	}
	slices.SortFunc(due, func(a, b engine.OutboxItem) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), strings.Compare(a.ID, b.ID))
	})
	return due[:min(limit, len(due))], nil
}

func (o *fakeOutbox) CompleteOutbox(ctx context.Context, it engine.OutboxItem) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.items, it.ID)
	o.done[it.ID]++
	return nil
}

func (o *fakeOutbox) RetryOutbox(ctx context.Context, it engine.OutboxItem) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.items[it.ID]; !ok {
		return fmt.Errorf("retry of unknown item %s", it.ID)
	}
	o.items[it.ID] = it
	o.retries[it.ID] = append(o.retries[it.ID], it)
	return nil
}

func (o *fakeOutbox) DeadOutbox(ctx context.Context, it engine.OutboxItem) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.items, it.ID)
	o.dead[it.ID] = it
	return nil
}

// state returns copies of what the outbox holds.
func (o *fakeOutbox) state() (items, dead map[string]engine.OutboxItem, done map[string]int, retries map[string][]engine.OutboxItem) {
	o.mu.Lock()
	defer o.mu.Unlock()
	retries = make(map[string][]engine.OutboxItem)
	for k, v := range o.retries {
		retries[k] = slices.Clone(v)
	}
	return clone(o.items), clone(o.dead), clone(o.done), retries
}

func clone[M ~map[K]V, K comparable, V any](m M) M {
	c := make(M, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func item(id, target string, nextAt time.Time) engine.OutboxItem {
	return engine.OutboxItem{
		ID: id, Target: target, NextAt: nextAt,
		Change: engine.Change{
			ID: "chg_" + id, Event: engine.EventConsentChanged, User: "user-personal-id",
			Body: json.RawMessage(`{"event":"consent.changed","user_id":"user-personal-id","version":1}`),
		},
	}
}

// runDispatcher runs d until the test ends.
func runDispatcher(tb testing.TB, d *changes.Dispatcher) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
}

// eventually polls cond until it holds or 5 s have passed.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

type request struct {
	header http.Header
	body   []byte
}

// recorder is a receiver that answers with the statuses given, in turn,
// then 200, and records each request.
type recorder struct {
	mu       sync.Mutex
	reqs     []request
	statuses []int
	header   http.Header // added to non-2xx answers
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, request{req.Header.Clone(), body})
	status := http.StatusOK
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	r.mu.Unlock()
	if status >= 300 {
		for k, v := range r.header {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(status)
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

func TestDeliverySignedAndCompleted(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	it := item("out_1", srv.URL+"/heed", time.Time{})
	out := newFakeOutbox(it)
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	runDispatcher(t, changes.New(out, changes.Options{Secret: secret}, log))

	eventually(t, "delivered", func() bool { _, _, done, _ := out.state(); return done["out_1"] == 1 })
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if !bytes.Equal(r.body, it.Change.Body) {
		t.Errorf("body = %s, want %s", r.body, it.Change.Body)
	}
	for h, want := range map[string]string{
		"Content-Type": "application/json", "Heed-Event": "consent.changed", "Heed-Delivery": "out_1",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if err := changes.Verify(secret, r.header.Get("Heed-Signature"), r.body, time.Minute, time.Now()); err != nil {
		t.Errorf("signature: %v", err)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), `"change_id":"chg_out_1"`) {
		t.Errorf("logs lack the change id:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "user-personal-id") {
		t.Errorf("logs carry personal data:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestFailingReceiverRetriedWithBackoff(t *testing.T) {
	rec := &recorder{statuses: []int{503, 500, 502}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	out := newFakeOutbox(item("out_1", srv.URL, time.Time{}))
	base := 40 * time.Millisecond
	runDispatcher(t, changes.New(out, changes.Options{Secret: secret, BaseBackoff: base, Poll: 5 * time.Millisecond}, nil))

	eventually(t, "delivered", func() bool { _, _, done, _ := out.state(); return done["out_1"] == 1 })
	reqs := rec.requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	for i, r := range reqs {
		if r.header.Get("Heed-Delivery") != "out_1" {
			t.Errorf("request %d: Heed-Delivery = %q, want the same id on every attempt", i, r.header.Get("Heed-Delivery"))
		}
	}
	_, _, _, retries := out.state()
	rs := retries["out_1"]
	if len(rs) != 3 {
		t.Fatalf("%d retries recorded, want 3", len(rs))
	}
	wantErrs := []string{"HTTP 503 Service Unavailable", "HTTP 500 Internal Server Error", "HTTP 502 Bad Gateway"}
	for i, r := range rs {
		if r.Attempts != i+1 || r.LastErr != wantErrs[i] {
			t.Errorf("retry %d: attempts %d, last error %q; want %d, %q", i, r.Attempts, r.LastErr, i+1, wantErrs[i])
		}
	}
	// Exponential backoff with jitter: attempt n waits between half and all
	// of base·2^(n-1). Check through the gaps between requests' signatures.
	times := make([]time.Time, len(reqs))
	for i, r := range reqs {
		var unix int64
		fmt.Sscanf(r.header.Get("Heed-Signature"), "t=%d,", &unix)
		times[i] = time.Unix(unix, 0)
	}
	for i := 1; i < len(rs); i++ {
		prev, cur := rs[i-1].NextAt.Sub(times[0]), rs[i].NextAt.Sub(times[0])
		if cur <= prev {
			t.Errorf("retry %d is scheduled no later than retry %d", i+1, i)
		}
	}
}

func TestBackoffDelays(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	base, maxB := time.Second, 8*time.Second
	for attempts := range 7 {
		it := item(fmt.Sprintf("out_%d", attempts), srv.URL, clock.t)
		it.Attempts = attempts
		out := newFakeOutbox(it)
		ctx, cancel := context.WithCancel(context.Background())
		d := changes.New(out, changes.Options{Secret: secret, BaseBackoff: base, MaxBackoff: maxB, Now: clock.Now}, nil)
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		eventually(t, "retried", func() bool { _, _, _, r := out.state(); return len(r[it.ID]) == 1 })
		cancel()
		<-done
		_, _, _, r := out.state()
		full := min(base<<attempts, maxB)
		if got := r[it.ID][0].NextAt.Sub(clock.t); got < full/2 || got > full {
			t.Errorf("after %d failed attempts: next in %v, want within [%v, %v]", attempts+1, got, full/2, full)
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	tests := []struct {
		name       string
		status     int
		retryAfter string
		want       time.Duration
	}{
		{"429Seconds", 429, "120", 2 * time.Minute},
		{"503Date", 503, clock.t.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"429Capped", 429, "999999", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{statuses: []int{tt.status}, header: http.Header{"Retry-After": {tt.retryAfter}}}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			out := newFakeOutbox(item("out_1", srv.URL, clock.t))
			runDispatcher(t, changes.New(out, changes.Options{Secret: secret, Now: clock.Now}, nil))
			eventually(t, "retried", func() bool { _, _, _, r := out.state(); return len(r["out_1"]) == 1 })
			_, _, _, r := out.state()
			if got := r["out_1"][0].NextAt.Sub(clock.t); got != tt.want {
				t.Errorf("next attempt in %v, want %v (Retry-After: %s)", got, tt.want, tt.retryAfter)
			}
		})
	}
}

func TestDeadLetters(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		maxAttempts  int
		wantRequests int
		wantErr      string
	}{
		{"ServerErrorAfterMaxAttempts", 500, 4, 4, "HTTP 500 Internal Server Error"},
		{"GoneAtOnce", 410, 15, 1, "HTTP 410 Gone"},
		{"ClientErrorAfterFive", 404, 15, 5, "HTTP 404 Not Found"},
		{"RedirectNotFollowed", 302, 3, 3, "HTTP 302 Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				if tt.status == 302 {
					w.Header().Set("Location", "http://elsewhere.invalid/")
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			out := newFakeOutbox(item("out_1", srv.URL, time.Time{}))
			runDispatcher(t, changes.New(out, changes.Options{Secret: secret, BaseBackoff: time.Millisecond,
				MaxBackoff: 2 * time.Millisecond, MaxAttempts: tt.maxAttempts, Poll: 2 * time.Millisecond}, nil))
			eventually(t, "dead-lettered", func() bool { _, dead, _, _ := out.state(); return len(dead) == 1 })
			items, dead, done, _ := out.state()
			if d := dead["out_1"]; d.Attempts != tt.wantRequests || d.LastErr != tt.wantErr {
				t.Errorf("dead letter: attempts %d, last error %q; want %d, %q", d.Attempts, d.LastErr, tt.wantRequests, tt.wantErr)
			}
			if len(items) != 0 || len(done) != 0 {
				t.Errorf("items %v, done %v; want none", items, done)
			}
			time.Sleep(20 * time.Millisecond)
			if got := int(n.Load()); got != tt.wantRequests {
				t.Errorf("%d requests, want %d", got, tt.wantRequests)
			}
		})
	}
}

func TestNetworkErrorRetriedWithoutCredentials(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	target := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1) + "/hook?token=tok-secret"
	srv.Close() // nothing listens there now
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	out := newFakeOutbox(item("out_1", target, clock.t))
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil))
	runDispatcher(t, changes.New(out, changes.Options{Secret: secret, Now: clock.Now}, log))
	eventually(t, "retried", func() bool { _, _, _, r := out.state(); return len(r["out_1"]) == 1 })
	_, _, _, r := out.state()
	lastErr := r["out_1"][0].LastErr
	if lastErr == "" {
		t.Error("no last error recorded")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range []string{lastErr, logs.String()} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "tok-secret") {
			t.Errorf("credentials leaked: %s", s)
		}
	}
}

func TestInvalidBodyDeadLettered(t *testing.T) {
	it := item("out_1", "http://127.0.0.1:1/", time.Time{})
	it.Change.Body = json.RawMessage(`{not json`)
	out := newFakeOutbox(it)
	runDispatcher(t, changes.New(out, changes.Options{Secret: secret}, nil))
	eventually(t, "dead-lettered", func() bool { _, dead, _, _ := out.state(); return len(dead) == 1 })
}

// A target that hangs must not hold up deliveries to another, even when
// its backlog fills every outbox read.
func TestSlowTargetDoesNotBlockOthers(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	fast := &recorder{}
	fastSrv := httptest.NewServer(fast)
	defer fastSrv.Close()

	t0 := time.Now().Add(-time.Minute)
	out := newFakeOutbox()
	for i := range 10 {
		out.add(item(fmt.Sprintf("out_slow_%02d", i), slow.URL, t0.Add(time.Duration(i)*time.Millisecond)))
	}
	out.add(item("out_fast", fastSrv.URL, t0.Add(time.Second))) // behind the whole backlog
	runDispatcher(t, changes.New(out, changes.Options{Secret: secret, PerTarget: 2, Batch: 4,
		Poll: 10 * time.Millisecond, Client: &http.Client{Timeout: 10 * time.Second}}, nil))

	start := time.Now()
	eventually(t, "the fast target got its change", func() bool { _, _, done, _ := out.state(); return done["out_fast"] == 1 })
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the fast target waited %v", d)
	}
	items, _, _, _ := out.state()
	for id, it := range items {
		if it.Attempts != 0 {
			t.Errorf("%s: %d attempts; postponing must not count as one", id, it.Attempts)
		}
	}
	if len(items) != 10 {
		t.Errorf("%d slow items left, want 10", len(items))
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server notices the client going away
		<-r.Context().Done()
	}))
	defer hang.Close()
	var got atomic.Bool
	watch := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Store(true) }))
	defer watch.Close()
	out := newFakeOutbox(item("out_1", hang.URL, time.Time{}))
	d := changes.New(out, changes.Options{Secret: secret, Poll: 5 * time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // the delivery hangs
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	items, dead, _, retries := out.state()
	if it := items["out_1"]; it.Attempts != 0 || len(retries) != 0 || len(dead) != 0 {
		t.Errorf("the cut-short delivery was counted: item %+v, retries %v, dead %v", it, retries, dead)
	}
	out.add(item("out_2", watch.URL, time.Time{}))
	time.Sleep(30 * time.Millisecond)
	if got.Load() {
		t.Error("delivered after Run returned")
	}
}

func TestWakeDeliversWithoutWaitingForPoll(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	out := newFakeOutbox()
	d := changes.New(out, changes.Options{Secret: secret, Poll: time.Hour}, nil)
	runDispatcher(t, d)
	time.Sleep(20 * time.Millisecond) // the first poll finds nothing
	out.add(item("out_1", srv.URL, time.Time{}))
	d.Wake()
	d.Wake() // never blocks
	eventually(t, "delivered", func() bool { _, _, done, _ := out.state(); return done["out_1"] == 1 })
}

func TestRunNeedsSecret(t *testing.T) {
	err := changes.New(newFakeOutbox(), changes.Options{}, nil).Run(context.Background())
	if err == nil {
		t.Fatal("Run without a secret: no error")
	}
}
