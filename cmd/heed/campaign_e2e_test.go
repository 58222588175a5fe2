package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"heed/changes"
	"heed/internal/redistest"
)

// A deliverySink is the webhook every channel delivers to in these tests:
// it checks signatures and records each idempotency key it accepted, and
// how often.
type deliverySink struct {
	srv   *httptest.Server
	mu    sync.Mutex
	keys  map[string]int    // idempotency key → times received
	users map[string]string // idempotency key → user
	delay time.Duration
}

func newDeliverySink(t *testing.T, delay time.Duration) *deliverySink {
	s := &deliverySink{keys: map[string]int{}, users: map[string]string{}, delay: delay}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := changes.Verify([]byte(e2eHook), r.Header.Get("Heed-Signature"), body, time.Minute, time.Now()); err != nil {
			t.Errorf("sink: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m struct {
			Key  string `json:"idempotency_key"`
			User string `json:"user_id"`
		}
		json.Unmarshal(body, &m)
		time.Sleep(s.delay) // a provider taking its time: the burst lasts
		s.mu.Lock()
		s.keys[m.Key]++
		s.users[m.Key] = m.User
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *deliverySink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

// adminCall is call with the admin key.
func (p *heedProc) adminCall(tb testing.TB, method, path, body string, want int, out any) {
	tb.Helper()
	req, _ := http.NewRequest(method, p.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e2eAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		tb.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// seedCampaignUsers creates n users granted push marketing, and an active
// campaign on push; it returns the campaign id.
func seedCampaignUsers(t *testing.T, p *heedProc, n int) string {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("k%03d", i)
		p.call(t, "PUT", "/v1/users/"+id, `{"time_zone":"Asia/Shanghai"}`, 200, nil)
		p.call(t, "POST", "/v1/users/"+id+"/consents", `{"records":[{"purpose":"marketing","channel":"push","status":"granted"}]}`, 201, nil)
	}
	var c struct {
		ID string `json:"id"`
	}
	p.adminCall(t, "POST", "/v1/campaigns", `{"name":"burst","kind":"segment","offer":{"type":"threshold","spend":300,"amount_off":50},
		"channels":["push"],"schedule":{"cron":"0 10 * * *"},"message":{"title":"{{.Offer}}","body":"{{.Offer}}"}}`, 201, &c)
	p.adminCall(t, "POST", "/v1/campaigns/"+c.ID+"/activate", "", 200, nil)
	return c.ID
}

type deliveryPage struct {
	Deliveries []struct {
		User   string `json:"user_id"`
		Status string `json:"status"`
		Key    string `json:"idempotency_key"`
	} `json:"deliveries"`
	Next string `json:"next_cursor"`
}

// ledger returns every delivery of campaign id: user → (status, key).
func ledger(t *testing.T, p *heedProc, id string) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	cursor := ""
	for {
		var page deliveryPage
		p.adminCall(t, "GET", "/v1/campaigns/"+id+"/deliveries?limit=500&cursor="+cursor, "", 200, &page)
		for _, d := range page.Deliveries {
			out[d.User] = [2]string{d.Status, d.Key}
		}
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
}

// DESIGN invariant 6 through a crash: heed is killed with SIGKILL in the
// middle of a burst, after some webhook receipts and before those tasks
// were acknowledged. After a restart every user has received exactly one
// message of the occurrence: one idempotency key per user at the sink, the
// key of the user's delivery in the ledger. (The sink may see a key twice:
// a message sent just before the kill is sent again under its key, as
// at-least-once channels do; the key is what makes it the same message.)
func TestKilledMidBurstDeliversEachOnce(t *testing.T) {
	const users = 150
	rs := redistest.Start(t)
	sink := newDeliverySink(t, 15*time.Millisecond)
	env := []string{"HEED_REDIS=" + rs.URL(), "HEED_CHANNELS=push=" + sink.srv.URL, "HEED_SEND_LEASE=10s"}
	data := t.TempDir()
	p := startHeed(t, data, env...)
	id := seedCampaignUsers(t, p, users)
	p.adminCall(t, "POST", "/v1/campaigns/"+id+"/run", "", 202, nil)
	waitFor(t, 30*time.Second, "the burst to begin", func() bool { return sink.distinct() >= 20 })
	p.kill()
	<-p.done
	before := sink.distinct()
	if before >= users {
		t.Fatalf("the burst was over (%d messages) before the kill; the test proves nothing", before)
	}
	t.Logf("killed after %d of %d messages", before, users)

	p = startHeed(t, data, env...)
	waitFor(t, 3*time.Minute, "every user's message", func() bool {
		l := ledger(t, p, id)
		if len(l) != users {
			return false
		}
		for _, d := range l {
			if d[0] != "sent" {
				return false
			}
		}
		return true
	})
	sink.mu.Lock()
	defer sink.mu.Unlock()
	l := ledger(t, p, id)
	perUser := map[string]int{}
	dups := 0
	for key, n := range sink.keys {
		perUser[sink.users[key]]++
		dups += n - 1
		if l[sink.users[key]][1] != key {
			t.Errorf("the sink got key %s for %s, which the ledger does not hold (%v)", key, sink.users[key], l[sink.users[key]])
		}
	}
	for u, n := range perUser {
		if n != 1 {
			t.Errorf("%s received %d distinct messages, want 1", u, n)
		}
	}
	if len(perUser) != users {
		t.Errorf("%d users received a message, want %d", len(perUser), users)
	}
	t.Logf("%d messages resent under their key after the restart", dups)
}

// heedWorker starts heed worker against p's API and Redis.
func heedWorker(t *testing.T, p *heedProc, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(heedBinary(t), "worker", "--url", p.base, "--key", e2eAdmin, "--log-level", "warn")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HEED_WEBHOOK_SECRET=" + e2eHook}, env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = io.Discard, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("heed worker's log:\n%s", out.String())
		}
	})
	return cmd
}
