package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"heed/changes"
	"heed/internal/redistest"
)

// These tests run the real heed binary, built once per test run.

const (
	e2eAdmin = "e2e-admin-key-0123456789abcdef"
	e2eStore = "e2e-store-key-0123456789abcdef"
	e2eHook  = "e2e-webhook-secret-0123456789"
)

var (
	buildOnce sync.Once
	heedBin   string
	buildErr  error
)

func heedBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "heed-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		heedBin = filepath.Join(dir, "heed")
		out, err := exec.Command("go", "build", "-o", heedBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return heedBin
}

// A heedProc is a running heed serve.
type heedProc struct {
	cmd    *exec.Cmd
	base   string
	stderr *syncBuffer
	done   chan struct{}
}

// startHeed starts heed serve on data with the extra environment and waits
// until it answers /healthz.
func startHeed(tb testing.TB, data string, env ...string) *heedProc {
	tb.Helper()
	needRedisServer(tb)
	bin := heedBinary(tb)
	addr := freeAddr(tb)
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data", data, "--log-level", "warn")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HEED_API_KEYS=admin=" + e2eAdmin + ",storefront=" + e2eStore,
		"HEED_WEBHOOK_SECRET=" + e2eHook}, env...)
	p := &heedProc{cmd: cmd, base: "http://" + addr, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, p.stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() { p.kill(); <-p.done })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(p.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.done:
			tb.Fatalf("heed exited at start:\n%s", p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("heed did not answer /healthz:\n%s", p.stderr.String())
		}
	}
}

func (p *heedProc) kill() { p.cmd.Process.Signal(syscall.SIGKILL) }

// stop sends SIGTERM and waits for a clean exit.
func (p *heedProc) stop(tb testing.TB) {
	tb.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			tb.Errorf("heed exited with %d after SIGTERM:\n%s", code, p.stderr.String())
		}
	case <-time.After(20 * time.Second):
		tb.Fatal("heed did not stop after SIGTERM")
	}
}

func freeAddr(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// call sends a request with the storefront key and decodes a JSON answer.
func (p *heedProc) call(tb testing.TB, method, path, body string, want int, out any) {
	tb.Helper()
	code, raw, err := p.try(method, path, body)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		tb.Fatalf("%s %s = %d, want %d: %s", method, path, code, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (p *heedProc) try(method, path, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+e2eStore)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// TestKillAfterAckKeepsConsents: consents acknowledged with 201 survive a
// SIGKILL that lands while writes are still in flight (invariant 7).
func TestKillAfterAckKeepsConsents(t *testing.T) {
	data := t.TempDir()
	p := startHeed(t, data)
	const users = 8
	for u := range users {
		p.call(t, "PUT", fmt.Sprintf("/v1/users/k%d", u), `{"time_zone":"Asia/Shanghai"}`, 200, nil)
	}

	var mu sync.Mutex
	acked := map[string]string{} // record id → user
	var n atomic.Int64
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				u := fmt.Sprintf("k%d", (w+i)%users)
				status := []string{"granted", "withdrawn"}[i%2]
				body := fmt.Sprintf(`{"records":[{"purpose":"marketing","channel":"email","status":%q}]}`, status)
				code, raw, err := p.try("POST", "/v1/users/"+u+"/consents", body)
				if err != nil || code != 201 {
					return // the process is gone
				}
				var got struct{ Records []struct{ ID string } }
				if json.Unmarshal(raw, &got) != nil || len(got.Records) != 1 {
					return
				}
				mu.Lock()
				acked[got.Records[0].ID] = u
				mu.Unlock()
				if n.Add(1) == 300 {
					p.kill() // right after a 201, with other writes in flight
				}
			}
		})
	}
	wg.Wait()
	<-p.done
	if len(acked) < 300 {
		t.Fatalf("only %d writes acknowledged before the kill", len(acked))
	}

	q := startHeed(t, data)
	found := map[string]bool{}
	for u := range users {
		var hist struct{ Records []struct{ ID string } }
		q.call(t, "GET", fmt.Sprintf("/v1/users/k%d/consents/history", u), "", 200, &hist)
		for _, r := range hist.Records {
			found[r.ID] = true
		}
	}
	var lost []string
	for id := range acked {
		if !found[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged records lost after SIGKILL, e.g. %v", len(lost), len(acked), lost[:min(3, len(lost))])
	}
	t.Logf("%d acknowledged records, all found after restart", len(acked))
}

// TestChangeWebhooksSurviveRestart: consent and preference changes reach
// HEED_CHANGE_WEBHOOKS signed, are retried while the receiver fails, and
// still arrive after heed restarts.
func TestChangeWebhooksSurviveRestart(t *testing.T) {
	var up atomic.Bool
	var mu sync.Mutex
	var failures int
	got := map[string]map[string]any{} // Heed-Delivery → body
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := changes.Verify([]byte(e2eHook), r.Header.Get("Heed-Signature"), body, time.Minute, time.Now()); err != nil {
			t.Errorf("bad signature on %s: %v", r.Header.Get("Heed-Event"), err)
			w.WriteHeader(400)
			return
		}
		if !up.Load() {
			failures++
			w.WriteHeader(503)
			return
		}
		var m map[string]any
		json.Unmarshal(body, &m)
		got[r.Header.Get("Heed-Delivery")] = m
	}))
	defer recv.Close()

	data := t.TempDir()
	hooks := "HEED_CHANGE_WEBHOOKS=" + recv.URL
	p := startHeed(t, data, hooks)
	p.call(t, "PUT", "/v1/users/w1", `{}`, 200, nil)
	p.call(t, "POST", "/v1/users/w1/consents", `{"records":[{"purpose":"marketing","channel":"sms","status":"granted"}]}`, 201, nil)
	p.call(t, "PATCH", "/v1/users/w1/preferences", `{"quiet_hours":{"start":"22:00","end":"08:00"}}`, 200, nil)

	waitFor(t, 15*time.Second, "a failed delivery attempt", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return failures >= 2
	})
	p.stop(t)
	up.Store(true)

	startHeed(t, data, hooks)
	waitFor(t, 30*time.Second, "both changes delivered after restart", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	events := map[string]bool{}
	for _, b := range got {
		events[fmt.Sprint(b["event"])] = true
		if b["user_id"] != "w1" {
			t.Errorf("change for user %v, want w1", b["user_id"])
		}
	}
	if !events["consent.changed"] || !events["preferences.changed"] {
		t.Errorf("events delivered = %v, want consent.changed and preferences.changed", events)
	}
}

func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
	}
}

// While its Redis is down, heed's stderr stays JSON lines: go-redis's own
// complaints (failed dials) come through heed's log, as warnings, and the
// libraries' complaints are not repeated word for word within a minute.
func TestRedisOutageLogsAreJSON(t *testing.T) {
	rs := redistest.Start(t)
	p := startHeed(t, t.TempDir(), "HEED_REDIS="+rs.URL())
	rs.Stop()
	waitFor(t, time.Minute, "go-redis to report the outage", func() bool {
		return strings.Contains(p.stderr.String(), "failed to dial")
	})
	time.Sleep(3 * time.Second) // go-redis and asynq complain every second or so
	p.stop(t)
	first := map[string]time.Time{}
	for line := range strings.SplitSeq(strings.TrimSpace(p.stderr.String()), "\n") {
		var l struct {
			Time       time.Time
			Level, Msg string
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Errorf("heed wrote a line that is not JSON: %s", line)
			continue
		}
		if !strings.HasPrefix(l.Msg, "redis: ") && !strings.HasPrefix(l.Msg, "asynq: ") {
			continue
		}
		if at, ok := first[l.Msg]; ok && l.Time.Sub(at) < time.Minute {
			t.Errorf("logged again %s after the first time: %s", l.Time.Sub(at), l.Msg)
		} else if !ok {
			first[l.Msg] = l.Time
		}
	}
	if !strings.Contains(p.stderr.String(), `"level":"WARN","msg":"redis: `) {
		t.Errorf("no go-redis line came through heed's log:\n%s", p.stderr.String())
	}
}
