package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
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
	const users = 300
	rs := redistest.Start(t)
	sink := newDeliverySink(t, 100*time.Millisecond) // slow enough that the kill lands mid-burst
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

// heedWorker starts heed worker, with the extra arguments, against p's API
// and Redis.
func heedWorker(t *testing.T, p *heedProc, args []string, env ...string) *syncBuffer {
	t.Helper()
	cmd := exec.Command(heedBinary(t), append([]string{"worker", "--url", p.base, "--key", e2eAdmin, "--log-level", "warn"}, args...)...)
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
	return out
}

// metric returns the sum of the samples of name in p's /metrics whose
// labels contain match.
func (p *heedProc) metric(t *testing.T, name, match string) float64 {
	t.Helper()
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var sum float64
	for line := range strings.SplitSeq(string(raw), "\n") {
		if strings.HasPrefix(line, name) && strings.Contains(line, match) {
			var v float64
			fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v)
			sum += v
		}
	}
	return sum
}

// plannedOut counts the users a campaign's runs left out at planning (the
// decision foreseen there suppressed them: no delivery is recorded).
func plannedOut(t *testing.T, p *heedProc, id string) int {
	var runs struct {
		Runs []struct {
			Suppressed map[string]int `json:"suppressed"`
		} `json:"runs"`
	}
	p.adminCall(t, "GET", "/v1/campaigns/"+id+"/runs", "", 200, &runs)
	n := 0
	for _, r := range runs.Runs {
		for _, k := range r.Suppressed {
			n += k
		}
	}
	return n
}

// settled waits until each campaign of ids has accounted for n users
// (deliveries plus those left out at planning), every delivery final or
// deferred.
func settled(t *testing.T, p *heedProc, within time.Duration, n int, ids ...string) map[string]map[string][2]string {
	t.Helper()
	var out map[string]map[string][2]string
	waitFor(t, within, "every delivery settled", func() bool {
		out = map[string]map[string][2]string{}
		for _, id := range ids {
			l := ledger(t, p, id)
			if len(l)+plannedOut(t, p, id) < n {
				return false
			}
			for _, d := range l {
				if d[0] == "scheduled" || d[0] == "sending" {
					return false
				}
			}
			out[id] = l
		}
		return true
	})
	return out
}

// DESIGN invariant 5 across processes: campaigns worked by two heed worker
// processes at once (heed serve only plans) never exceed a shopper's caps:
// one push a day for those who set it, the policy's marketing cap (3 a
// day) for everyone.
func TestCapsAcrossWorkerProcesses(t *testing.T) {
	const users, campaigns = 24, 6
	rs := redistest.Start(t)
	// Each send takes 2 s, so a worker's two slots stay busy longer than
	// the other worker can sleep on an empty queue (asynq checks again
	// after 0.5–1.5 s): one worker cannot take every task. (At 300 ms one
	// worker once delivered all six batches before the other looked.)
	sink := newDeliverySink(t, 2*time.Second)
	env := []string{"HEED_REDIS=" + rs.URL(), "HEED_CHANNELS=push=" + sink.srv.URL + ",email=" + sink.srv.URL}
	p := startHeed(t, t.TempDir(), append(env, "HEED_WORKERS=0")...)
	logs := []*syncBuffer{
		heedWorker(t, p, []string{"--concurrency", "2", "--log-level", "debug"}, env...),
		heedWorker(t, p, []string{"--concurrency", "2", "--log-level", "debug"}, env...),
	}
	for i := range users {
		id := fmt.Sprintf("c%02d", i)
		p.call(t, "PUT", "/v1/users/"+id, `{"time_zone":"Asia/Shanghai"}`, 200, nil)
		p.call(t, "POST", "/v1/users/"+id+"/consents", `{"records":[{"purpose":"marketing","channel":"push","status":"granted"},
			{"purpose":"marketing","channel":"email","status":"granted"}]}`, 201, nil)
		if i%2 == 0 {
			p.call(t, "PATCH", "/v1/users/"+id+"/preferences", `{"channels":{"push":{"enabled":true,"max_per_day":1},"email":{"enabled":false}}}`, 200, nil)
		}
	}
	// Every campaign due at the same second, planned before it (the
	// planner looks every 15 s): all their batches race for the workers.
	due := time.Now().Add(20 * time.Second).UTC().Truncate(time.Second)
	var ids []string
	for i := range campaigns {
		var c struct {
			ID string `json:"id"`
		}
		p.adminCall(t, "POST", "/v1/campaigns", fmt.Sprintf(`{"name":"c%d","kind":"segment","offer":{"type":"points","points":100},
			"channels":["push","email"],"schedule":{"send_at":"%s"},"message":{"title":"{{.Offer}}","body":"{{.Offer}}"}}`, i, due.Format(time.RFC3339)), 201, &c)
		p.adminCall(t, "POST", "/v1/campaigns/"+c.ID+"/activate", "", 200, nil)
		ids = append(ids, c.ID)
	}
	all := settled(t, p, time.Minute, users, ids...)
	sent := map[string]int{}
	total := 0
	for _, l := range all {
		for u, d := range l {
			if d[0] == "sent" {
				sent[u]++
				total++
			}
		}
	}
	for i := range users {
		u := fmt.Sprintf("c%02d", i)
		want := 3
		if i%2 == 0 {
			want = 1
		}
		if sent[u] != want {
			t.Errorf("%s was sent %d messages, want %d", u, sent[u], want)
		}
	}
	if sink.distinct() != total {
		t.Errorf("the sink got %d messages, the ledger says %d were sent", sink.distinct(), total)
	}
	for i, l := range logs {
		if n := strings.Count(l.String(), "delivering a batch"); n == 0 {
			t.Errorf("worker %d delivered no batch; the test shows nothing across processes", i)
		} else {
			t.Logf("worker %d delivered %d batches", i, n)
		}
	}
}

// Two processes that both plan (heed serve and heed worker --plan) plan
// each occurrence once: one run, each chunk planned once, one delivery and
// one message per user.
func TestTwoPlannersPlanOnce(t *testing.T) {
	const users = 40
	rs := redistest.Start(t)
	sink := newDeliverySink(t, 0)
	env := []string{"HEED_REDIS=" + rs.URL(), "HEED_CHANNELS=push=" + sink.srv.URL}
	p := startHeed(t, t.TempDir(), env...)
	heedWorker(t, p, []string{"--plan"}, env...)
	for i := range users {
		id := fmt.Sprintf("p%02d", i)
		p.call(t, "PUT", "/v1/users/"+id, `{}`, 200, nil)
		p.call(t, "POST", "/v1/users/"+id+"/consents", `{"records":[{"purpose":"marketing","channel":"push","status":"granted"}]}`, 201, nil)
	}
	due := time.Now().Add(20 * time.Second).UTC().Truncate(time.Second)
	var c struct {
		ID string `json:"id"`
	}
	p.adminCall(t, "POST", "/v1/campaigns", `{"name":"once","kind":"segment","offer":{"type":"free_shipping"},
		"channels":["push"],"schedule":{"send_at":"`+due.Format(time.RFC3339)+`"},"message":{"title":"{{.Offer}}","body":"{{.Offer}}"}}`, 201, &c)
	p.adminCall(t, "POST", "/v1/campaigns/"+c.ID+"/activate", "", 200, nil)
	l := settled(t, p, time.Minute, users, c.ID)[c.ID]
	waitFor(t, time.Minute, "every message", func() bool { return sink.distinct() == users })
	var runs struct {
		Runs []struct {
			ID         string `json:"run_id"`
			Chunks     int    `json:"chunks"`
			ChunksDone int    `json:"chunks_done"`
			Scheduled  int    `json:"scheduled"`
		} `json:"runs"`
	}
	p.adminCall(t, "GET", "/v1/campaigns/"+c.ID+"/runs", "", 200, &runs)
	if len(runs.Runs) != 1 || runs.Runs[0].ChunksDone != runs.Runs[0].Chunks || runs.Runs[0].Scheduled != users {
		t.Errorf("runs = %+v, want one run, each chunk planned once, %d scheduled", runs.Runs, users)
	}
	if len(l) != users {
		t.Errorf("%d deliveries, want %d", len(l), users)
	}
	time.Sleep(time.Second)
	if sink.distinct() != users {
		t.Errorf("the sink got %d distinct messages, want %d", sink.distinct(), users)
	}
}

// Erasing a shopper through the API takes their id out of the campaign
// tasks waiting in Redis (heed serve tells its scheduler).
func TestErasureForgetsQueuedTasks(t *testing.T) {
	const gone = "gone-e2e-41b9"
	rs := redistest.Start(t)
	sink := newDeliverySink(t, 0)
	env := []string{"HEED_REDIS=" + rs.URL(), "HEED_CHANNELS=push=" + sink.srv.URL}
	p := startHeed(t, t.TempDir(), env...)
	for _, id := range []string{"stays-e2e", gone} {
		p.call(t, "PUT", "/v1/users/"+id, `{}`, 200, nil)
		p.call(t, "POST", "/v1/users/"+id+"/consents", `{"records":[{"purpose":"marketing","channel":"push","status":"granted"}]}`, 201, nil)
	}
	var c struct {
		ID string `json:"id"`
	}
	due := time.Now().Add(40 * time.Minute).UTC().Truncate(time.Second) // within the planner's hour
	p.adminCall(t, "POST", "/v1/campaigns", fmt.Sprintf(`{"name":"later","kind":"segment","offer":{"type":"points","points":100},
		"channels":["push"],"schedule":{"send_at":"%s"},"message":{"title":"{{.Offer}}","body":"{{.Offer}}"}}`, due.Format(time.RFC3339)), 201, &c)
	p.adminCall(t, "POST", "/v1/campaigns/"+c.ID+"/activate", "", 200, nil)
	rdb := rs.Client(t)
	waitFor(t, time.Minute, "the shopper's task queued", func() bool { return len(redistest.Traces(t, rdb, gone)) > 0 })
	p.call(t, "DELETE", "/v1/users/"+gone, "", 204, nil)
	// The Forget tasks (planning queue) name the shopper until their second
	// look, a minute on; the delivery tasks, no longer.
	waitFor(t, 30*time.Second, "no trace of the erased shopper in the delivery tasks", func() bool {
		return !slices.ContainsFunc(redistest.Traces(t, rdb, gone), func(k string) bool { return !strings.Contains(k, "-plan}") })
	})
	if len(redistest.Traces(t, rdb, "stays-e2e")) == 0 {
		t.Error("the other shopper's task went too")
	}
}
