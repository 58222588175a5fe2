package scheduler_test

import (
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"heed/campaigns"
	"heed/engine"
	"heed/internal/redistest"
	"heed/scheduler"
)

// runNow starts a manual run of campaign id and queues its planning.
func (r *rig) runNow(t *testing.T, s *scheduler.Scheduler, id string) {
	t.Helper()
	run, err := r.camp.RunNow(r.ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Dispatch(r.ctx, engine.PlanJob{Campaign: id, Run: run.ID, Now: run.Now}); err != nil {
		t.Fatal(err)
	}
}

// A webhook answering 503 or 429 is tried again after a backoff (or the
// Retry-After it asks for), under the same idempotency key; one that keeps
// failing is given up after the last attempt and counted failed.
func TestWebhookRetriesThenFails(t *testing.T) {
	r := newRig(t)
	r.user(t, "flaky", engine.Profile{}, []engine.Channel{engine.ChannelPush}, nil)
	r.user(t, "down", engine.Profile{}, []engine.Channel{engine.ChannelPush}, nil)
	var flaky atomic.Int32
	var firstKey atomic.Value
	r.sink.fail = func(m received) int {
		switch m.User {
		case "flaky":
			if k, ok := firstKey.Load().(string); ok && k != m.Key {
				t.Errorf("retry under key %s, first %s", m.Key, k)
			}
			firstKey.Store(m.Key)
			if n := flaky.Add(1); n == 1 {
				return http.StatusServiceUnavailable
			} else if n == 2 {
				return http.StatusTooManyRequests
			}
		case "down":
			return http.StatusInternalServerError
		}
		return 0
	}
	s, _ := r.scheduler(t, scheduler.Options{MaxAttempts: 3, RetryBase: 200 * time.Millisecond})
	c := r.campaign(t, campaigns.Campaign{Channels: []engine.Channel{engine.ChannelPush}})
	r.runNow(t, s, c.ID)
	waitFor(t, 30*time.Second, "both deliveries final", func() bool {
		ds := r.deliveries(t, c.ID)
		return ds["flaky"].Status.Final() && ds["down"].Status.Final()
	})
	ds := r.deliveries(t, c.ID)
	if d := ds["flaky"]; d.Status != engine.DeliverySent || d.Attempts != 3 {
		t.Errorf("flaky: %+v, want sent on the third attempt", d)
	}
	if d := ds["down"]; d.Status != engine.DeliveryFailed || d.Attempts != 3 || d.LastError == "" {
		t.Errorf("down: %+v, want failed after three attempts", d)
	}
	st, err := r.camp.Stats(r.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 1 || st.Failed != 1 {
		t.Errorf("stats: sent %d failed %d, want 1 and 1", st.Sent, st.Failed)
	}
}

// DESIGN invariant 9: erasing a shopper removes their queued deliveries,
// and the queued task, when it comes, sends them nothing.
func TestErasureRemovesQueuedDeliveries(t *testing.T) {
	r := newRig(t)
	r.user(t, "gone", engine.Profile{}, []engine.Channel{engine.ChannelPush}, nil)
	r.user(t, "stays", engine.Profile{}, []engine.Channel{engine.ChannelPush}, nil)
	r.scheduler(t, scheduler.Options{Plan: true})
	due := time.Now().Add(4 * time.Second).Truncate(time.Second).Add(time.Second)
	c := r.campaign(t, campaigns.Campaign{Schedule: campaigns.Schedule{SendAt: due.UTC().Format(time.RFC3339)}})
	waitFor(t, 10*time.Second, "two scheduled deliveries", func() bool { return len(r.deliveries(t, c.ID)) == 2 })
	if _, err := r.svc.Erase(r.ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.deliveries(t, c.ID)["gone"]; ok {
		t.Error("the erased user's queued delivery is still in the ledger")
	}
	waitFor(t, 20*time.Second, "the other message", func() bool { return r.sink.count() == 1 })
	time.Sleep(500 * time.Millisecond)
	for _, m := range r.sink.messages() {
		if m.User == "gone" {
			t.Errorf("the erased user was sent a message: %+v", m)
		}
	}
	if ds := r.deliveries(t, c.ID); len(ds) != 1 {
		t.Errorf("ledger after the send: %v; the erased user must not come back", ds)
	}
}

// An occurrence missed while no planner ran is planned late: shoppers whose
// window is still open get it at once, those whose window closed are
// counted window_passed.
func TestMissedOccurrenceCaughtUpInItsWindow(t *testing.T) {
	r := newRig(t)
	r.user(t, "sh", engine.Profile{TimeZone: "Asia/Shanghai"}, []engine.Channel{engine.ChannelPush}, nil)
	r.user(t, "la", engine.Profile{TimeZone: "America/Los_Angeles"}, []engine.Channel{engine.ChannelPush}, nil)
	r.user(t, "ki", engine.Profile{TimeZone: "Pacific/Kiritimati"}, []engine.Channel{engine.ChannelPush}, nil)
	r.campaign(t, campaigns.Campaign{Schedule: campaigns.Schedule{Cron: "0 10 * * *"}, WindowHours: 6})
	// heed comes back at 2027-03-02 06:00 UTC. 10:00 on Mar 2 was at 02:00
	// UTC in Shanghai (4 hours ago, inside the 6-hour window), at 20:00
	// UTC on Mar 1 in Kiritimati (10 hours ago: closed), and is at 18:00
	// UTC in Los Angeles (still to come).
	now := time.Date(2027, 3, 2, 6, 0, 0, 0, time.UTC)
	late := campaigns.NewService(r.db, r.svc, r.pol, campaigns.Options{Now: func() time.Time { return now }}, r.log)
	jobs, err := late.Due(r.ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	var res engine.PlanResult
	for _, j := range jobs {
		if j.Label == "2027-03-02" {
			if res, err = late.PlanChunk(r.ctx, j, "", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	due := map[engine.UserID]time.Time{}
	for _, ct := range res.Contacts {
		due[ct.User] = ct.Due
	}
	want := map[engine.UserID]time.Time{"sh": time.Date(2027, 3, 2, 2, 0, 0, 0, time.UTC), "la": time.Date(2027, 3, 2, 18, 0, 0, 0, time.UTC)}
	if len(due) != 2 || !due["sh"].Equal(want["sh"]) || !due["la"].Equal(want["la"]) {
		t.Errorf("2027-03-02 planned %v, want %v", due, want)
	}
	if res.Suppressed[engine.ReasonWindowPassed] != 1 {
		t.Errorf("left out %v, want ki counted window_passed", res.Suppressed)
	}
}

// While Redis is down the engine keeps working (consents, runs recorded);
// when it is back, the run that could not be queued is planned and sent,
// once.
func TestRedisOutage(t *testing.T) {
	r := newRig(t)
	r.camp = campaigns.NewService(r.db, r.svc, r.pol, campaigns.Options{RedispatchAfter: time.Second,
		UnsubscribeURL: func(d engine.Delivery) string { return "http://heed.test/u/" + d.ID }}, r.log)
	s, _ := r.scheduler(t, scheduler.Options{Plan: true})
	c := r.campaign(t, campaigns.Campaign{})
	r.redis.Stop()
	r.user(t, "during", engine.Profile{}, []engine.Channel{engine.ChannelPush}, nil)
	run, err := r.camp.RunNow(r.ctx, c.ID, "")
	if err != nil {
		t.Fatalf("a run is recorded while Redis is down: %v", err)
	}
	if err := s.Dispatch(r.ctx, engine.PlanJob{Campaign: c.ID, Run: run.ID, Now: run.Now}); err == nil {
		t.Fatal("queueing a run with Redis down succeeded")
	}
	time.Sleep(2 * time.Second)
	r.redis.Restart(t)
	waitFor(t, 30*time.Second, "the message after Redis is back", func() bool { return r.sink.count() == 1 })
	time.Sleep(time.Second)
	if r.sink.count() != 1 || r.sink.messages()[0].User != "during" {
		t.Errorf("sink got %+v, want one message to during", r.sink.messages())
	}
}

// DESIGN invariant 9 (erasure is complete) reaches Redis: soon after an
// erasure no Redis key or value holds the shopper's id. Their contact is
// taken out of the batch it shared (the others keep theirs, and its time),
// and a task that held only them is gone.
func TestErasureLeavesNoTraceInRedis(t *testing.T) {
	const gone = "gone-7c1f"
	r := newRig(t)
	due := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	r.user(t, "keep-a", engine.Profile{}, []engine.Channel{engine.ChannelPush}, nil)
	r.user(t, gone, engine.Profile{Region: "310000"}, []engine.Channel{engine.ChannelPush}, nil)
	r.user(t, "keep-b", engine.Profile{}, []engine.Channel{engine.ChannelPush}, nil)
	s, _ := r.scheduler(t, scheduler.Options{Plan: true, ForgetAgain: 8 * time.Second, Erasures: r.db})
	sendAt := campaigns.Schedule{SendAt: due.UTC().Format(time.RFC3339)}
	all := r.campaign(t, campaigns.Campaign{Name: "all", Schedule: sendAt})
	only := r.campaign(t, campaigns.Campaign{Name: "only", Schedule: sendAt, Audience: campaigns.Audience{Regions: []string{"310000"}}})
	waitFor(t, 20*time.Second, "both campaigns planned", func() bool {
		return len(r.deliveries(t, all.ID)) == 3 && len(r.deliveries(t, only.ID)) == 1
	})
	rdb := r.redis.Client(t)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	scheduled := func() []*asynq.TaskInfo {
		tasks, err := insp.ListScheduledTasks("heed-deliver", asynq.PageSize(100))
		if err != nil {
			t.Fatal(err)
		}
		return tasks
	}
	if n := len(scheduled()); n != 2 || len(redistest.Traces(t, rdb, gone)) == 0 {
		t.Fatalf("%d scheduled tasks, the shopper's id in Redis %v; want 2, and it", n, redistest.Traces(t, rdb, gone))
	}
	forgot := time.Now()
	if _, err := r.svc.Erase(r.ctx, gone); err != nil {
		t.Fatal(err)
	}
	s.Erased() // as heed serve's engine does
	// The Forget tasks name the shopper until both looks have run; the
	// delivery tasks, from the first on.
	inDeliveries := func() bool {
		return slices.ContainsFunc(redistest.Traces(t, rdb, gone), func(k string) bool { return !strings.Contains(k, "{heed-plan}") })
	}
	waitFor(t, 20*time.Second, "no trace of the erased shopper in the delivery tasks", func() bool { return !inDeliveries() })

	// A planning chunk that read the shopper before the erasure queues
	// them after it: Forget's second look takes them out.
	if time.Since(forgot) < 6*time.Second {
		late := r.deliveries(t, all.ID)["keep-a"].Contact
		late.User = gone
		if err := s.Schedule(r.ctx, []engine.Contact{late}); err != nil {
			t.Fatal(err)
		}
		if !inDeliveries() {
			t.Fatal("the late task does not name the shopper; the test proves nothing")
		}
	} else {
		t.Log("the first look took 6 s or more: the second look may have run already, not tested")
	}
	waitFor(t, 30*time.Second, "no trace of the erased shopper in Redis", func() bool { return len(redistest.Traces(t, rdb, gone)) == 0 })

	// The others' task is still there, due when it was.
	tasks := scheduled()
	if len(tasks) != 1 {
		t.Fatalf("%d scheduled tasks after Forget, want the others' one", len(tasks))
	}
	for _, u := range []string{"keep-a", "keep-b"} {
		if !strings.Contains(string(tasks[0].Payload), `"`+u+`"`) {
			t.Errorf("the task kept %s, want %s in it", tasks[0].Payload, u)
		}
	}
	if !tasks[0].NextProcessAt.Equal(due) {
		t.Errorf("the others' task is due %v, want %v", tasks[0].NextProcessAt, due)
	}
}

// An erasure while Redis is down reaches Redis once it is back: the store
// keeps the list of users to forget.
func TestErasureWhileRedisIsDown(t *testing.T) {
	const gone = "gone-down-5e2a"
	r := newRig(t)
	due := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	r.user(t, "keep-a", engine.Profile{}, []engine.Channel{engine.ChannelPush}, nil)
	r.user(t, gone, engine.Profile{}, []engine.Channel{engine.ChannelPush}, nil)
	s, _ := r.scheduler(t, scheduler.Options{Plan: true, Erasures: r.db, ForgetAgain: 3 * time.Second})
	c := r.campaign(t, campaigns.Campaign{Schedule: campaigns.Schedule{SendAt: due.UTC().Format(time.RFC3339)}})
	waitFor(t, 20*time.Second, "the campaign planned", func() bool { return len(r.deliveries(t, c.ID)) == 2 })
	rdb := r.redis.Client(t)
	if len(redistest.Traces(t, rdb, gone)) == 0 {
		t.Fatal("the shopper's id is not in Redis before the erasure; the test proves nothing")
	}

	r.redis.Stop()
	if _, err := r.svc.Erase(r.ctx, gone); err != nil {
		t.Fatal(err)
	}
	s.Erased()
	time.Sleep(3 * time.Second) // the scheduler tries, and fails
	if ids, err := r.db.ErasedToForget(r.ctx, 10); err != nil || !slices.Contains(ids, gone) {
		t.Fatalf("with Redis down, the users to forget = %v, %v; want the erased one kept", ids, err)
	}
	r.redis.Restart(t)
	waitFor(t, time.Minute, "no trace of the erased shopper in Redis", func() bool { return len(redistest.Traces(t, rdb, gone)) == 0 })
	if ids, err := r.db.ErasedToForget(r.ctx, 10); err != nil || len(ids) != 0 {
		t.Errorf("users to forget after Redis came back = %v, %v; want none", ids, err)
	}
	if len(redistest.Traces(t, rdb, "keep-a")) == 0 {
		t.Error("the other shopper's task went too")
	}
}
