package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"heed/campaigns"
	"heed/engine"
	"heed/engine/badgerstore"
	"heed/internal/redistest"
	"heed/policies"
	"heed/scheduler"
	"heed/scheduler/webhook"
)

// TestPlanningLoad plans one occurrence of a campaign for HEED_PLAN_USERS
// synthetic users of realistic shape and reports how long planning took,
// next to a plain scan of the same users' facts measured in the same run
// (the baseline), and how much Redis memory the scheduled deliveries take.
// It is skipped unless HEED_PLAN_USERS is set; HEED_PLAN_DIR keeps the
// users in a directory, loaded once and reused by later runs;
// HEED_PLAN_REPLACED=1 plans under a replaced (but equivalent) delivery
// policy, which the planner evaluates for each user.
//
//	HEED_PLAN_USERS=100000 go test -run TestPlanningLoad -v -timeout 1h ./scheduler/
func TestPlanningLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HEED_PLAN_USERS"))
	if n <= 0 {
		t.Skip("set HEED_PLAN_USERS to run the planning load test")
	}
	ctx := engine.SystemContext(context.Background())
	log := slog.New(slog.DiscardHandler)
	dir := os.Getenv("HEED_PLAN_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	db, err := badgerstore.Open(ctx, badgerstore.Options{Dir: dir}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pol, err := policies.New(ctx, policies.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("HEED_PLAN_REPLACED") != "" {
		// The shipped policy under another text: the same decisions, but
		// the planner asks the policy for each user.
		if err := pol.Replace(ctx, "delivery", pol.Modules()["delivery"]+"\n# replaced\n"); err != nil {
			t.Fatal(err)
		}
		t.Log("delivery policy replaced: planning evaluates it for each user")
	}
	svc := engine.NewService(db, pol, engine.Options{}, log)
	if some, _ := db.ScanUserFacts(ctx, engine.FactsQuery{Limit: 1}); len(some) == 0 {
		loadUsers(t, ctx, db, n)
	}

	// Baseline: read every user's facts, as planning must, and nothing else.
	start := time.Now()
	users := 0
	var after engine.UserID
	for {
		fs, err := db.ScanUserFacts(ctx, engine.FactsQuery{After: after, Limit: 5000})
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) == 0 {
			break
		}
		users += len(fs)
		after = fs[len(fs)-1].User.ID
	}
	scan := time.Since(start)
	t.Logf("baseline: scanned the facts of %d users in %s (%.0f users/s)", users, scan.Round(time.Millisecond), float64(users)/scan.Seconds())

	camp := campaigns.NewService(db, svc, pol, campaigns.Options{Lookahead: 48 * time.Hour}, log)
	c, err := camp.Create(ctx, campaigns.Campaign{Name: "load", Kind: campaigns.KindSegment,
		Offer:    campaigns.Offer{Type: campaigns.OfferThreshold, Spend: 300, AmountOff: 50},
		Channels: []engine.Channel{engine.ChannelPush, engine.ChannelEmail, engine.ChannelSMS},
		Schedule: campaigns.Schedule{Cron: "0 10 * * *"}, Message: campaigns.Message{Title: "{{.Offer}}", Body: "{{.Offer}}"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := camp.Transition(ctx, c.ID, campaigns.StatusActive); err != nil {
		t.Fatal(err)
	}
	jobs, err := camp.Due(ctx, time.Now())
	if err != nil || len(jobs) == 0 {
		t.Fatalf("due: %v, %v", jobs, err)
	}
	job := slices.MaxFunc(jobs, func(a, b engine.PlanJob) int { return strings.Compare(a.Label, b.Label) })

	rs := redistest.Start(t)
	rdb := rs.Client(t)
	before, _ := usedMemory(ctx, rdb)
	s := scheduler.New(rdb, camp, camp, db, scheduler.Options{Concurrency: 4, Namespace: "load"}, log)
	defer s.Close()
	sctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { s.Run(sctx); close(stopped) }()
	defer func() { stop(); <-stopped }() // before the Redis client closes
	insp := asynq.NewInspectorFromRedisClient(rdb)

	if path := os.Getenv("HEED_PLAN_PROFILE"); path != "" { // the planning alone
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		pprof.StartCPUProfile(f)
	}
	start = time.Now()
	if err := s.Dispatch(ctx, job); err != nil {
		t.Fatal(err)
	}
	var run campaigns.Run
	for {
		runs, err := camp.Runs(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(runs, func(r campaigns.Run) bool { return r.ID == job.Run })
		q, qerr := insp.GetQueueInfo("heed-load-plan")
		if i >= 0 && runs[i].ChunksDone == runs[i].Chunks && qerr == nil && q.Pending == 0 && q.Active == 0 {
			run = runs[i]
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	pprof.StopCPUProfile()
	after2, _ := usedMemory(ctx, rdb)
	t.Logf("planned occurrence %s for %d users in %s (%.0f users/s, %.2fx the baseline scan): audience %d, scheduled %d, left out %v",
		job.Label, users, took.Round(time.Millisecond), float64(users)/took.Seconds(), took.Seconds()/scan.Seconds(),
		run.Audience, run.Scheduled, run.Suppressed)
	if run.Scheduled > 0 {
		t.Logf("Redis: %d bytes more, %.0f bytes per scheduled delivery", after2-before, float64(after2-before)/float64(run.Scheduled))
	}

	// What the console's results cost: every entry of the ledger is read.
	start = time.Now()
	if _, err := camp.Stats(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: %d scheduled deliveries read in %s", run.Scheduled, time.Since(start).Round(time.Millisecond))

	// What an erasure costs the queue: one user taken out of the waiting
	// tasks (each is read).
	ds, _, err := db.Deliveries(ctx, c.ID, "", 1, nil)
	if err != nil || len(ds) == 0 {
		t.Fatalf("a delivery to forget: %v, %v", ds, err)
	}
	start = time.Now()
	changed, err := s.ForgetNow(ctx, ds[0].User)
	if err != nil || changed != 1 {
		t.Fatalf("forget: %d tasks changed, %v; want 1", changed, err)
	}
	t.Logf("forget: one user taken out of the tasks of %d scheduled deliveries in %s", run.Scheduled, time.Since(start).Round(time.Millisecond))
}

func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no used_memory in INFO")
}

// loadUsers writes n users of realistic shape: mostly in Asia/Shanghai,
// some elsewhere; 60% allow push marketing, 40% email, 15% SMS, some
// withdrew; a third set preferences (quiet hours, caps, offer types); a
// few are minors.
func loadUsers(t *testing.T, ctx context.Context, db *badgerstore.DB, n int) {
	zones := []string{"Asia/Shanghai", "Asia/Shanghai", "Asia/Shanghai", "Asia/Shanghai", "Asia/Shanghai", "Asia/Shanghai",
		"Asia/Shanghai", "America/Los_Angeles", "Europe/London", "Asia/Tokyo"}
	regions := []string{"310000", "110000", "440100", "330100", "510100"}
	t0 := time.Now().Add(-24 * time.Hour)
	start := time.Now()
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				id := engine.UserID(fmt.Sprintf("u%08d", i))
				p := engine.Profile{TimeZone: zones[rng.IntN(len(zones))], Region: regions[rng.IntN(len(regions))],
					Tier: engine.Tiers[rng.IntN(len(engine.Tiers))], Locale: "zh-CN",
					Birthday: fmt.Sprintf("%02d-%02d", 1+rng.IntN(12), 1+rng.IntN(28))}
				if rng.IntN(50) == 0 {
					p.Minor = true
				}
				if _, err := db.PutUser(ctx, id, p, t0); err != nil {
					t.Error(err)
					return
				}
				var recs []engine.ConsentRecord
				add := func(ch engine.Channel, st engine.Status) {
					recs = append(recs, engine.ConsentRecord{ID: engine.NewID("con_"), User: id, Purpose: engine.PurposeMarketing,
						Channel: ch, Status: st, Source: "app", RecordedAt: t0.Add(time.Duration(len(recs)) * time.Minute)})
				}
				if rng.IntN(10) < 6 {
					add(engine.ChannelPush, engine.StatusGranted)
				}
				if rng.IntN(10) < 4 {
					add(engine.ChannelEmail, engine.StatusGranted)
				}
				if rng.IntN(100) < 15 {
					add(engine.ChannelSMS, engine.StatusGranted)
				}
				if rng.IntN(100) < 5 {
					add(engine.ChannelPush, engine.StatusWithdrawn)
				}
				if len(recs) > 0 {
					if err := db.AppendConsents(ctx, id, recs, engine.Effects{}); err != nil {
						t.Error(err)
						return
					}
				}
				if rng.IntN(3) == 0 {
					_, err := db.UpdatePreferences(ctx, id, func(old engine.Preferences) (engine.Preferences, engine.Effects, error) {
						p := engine.DefaultPreferences()
						p.Version = 1
						p.QuietHours = &engine.QuietHours{Start: "22:00", End: "08:00"}
						p.Channels[engine.ChannelPush] = engine.ChannelPref{Enabled: true, MaxPerDay: 2, MaxPerWeek: 5}
						if rng.IntN(4) == 0 {
							p.OfferTypes = []string{"discount", "points"}
						}
						return p, engine.Effects{}, nil
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
				if d := done.Add(1); d%100000 == 0 {
					t.Logf("loaded %d users in %s", d, time.Since(start).Round(time.Second))
				}
			}
		})
	}
	wg.Wait()
	t.Logf("loaded %d users in %s", n, time.Since(start).Round(time.Second))
}

// TestDeliveryLoad measures delivery end to end: HEED_DELIVERY_RATE
// messages due every second for HEED_DELIVERY_SECONDS seconds (one
// campaign a second, each for its own region's shoppers), each taken
// through the send-time decision, the caps, the ledger and a signed
// webhook to a local sink. It reports throughput, lateness against the
// due time, duplicates and early sends, next to a baseline measured in the
// same run: the same webhook sender posting to the same sink with nothing
// else. While the load runs, it withdraws consent for shoppers due later
// and reports the largest gap between a withdrawal's acknowledgement and a
// message that still reached that shopper (decided before it).
//
//	HEED_DELIVERY_RATE=3000 HEED_DELIVERY_SECONDS=20 go test -run TestDeliveryLoad -v -timeout 30m ./scheduler/
func TestDeliveryLoad(t *testing.T) {
	rate, _ := strconv.Atoi(os.Getenv("HEED_DELIVERY_RATE"))
	secs, _ := strconv.Atoi(os.Getenv("HEED_DELIVERY_SECONDS"))
	if rate <= 0 || secs <= 0 {
		t.Skip("set HEED_DELIVERY_RATE and HEED_DELIVERY_SECONDS to run the delivery load test")
	}
	ctx := engine.SystemContext(context.Background())
	log := slog.New(slog.DiscardHandler)
	db, err := badgerstore.Open(ctx, badgerstore.Options{Dir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pol, err := policies.New(ctx, policies.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	svc := engine.NewService(db, pol, engine.Options{}, log)
	sink := newLoadSink()
	defer sink.srv.Close()
	wh := webhook.New(webhook.Options{URL: sink.srv.URL, Secret: secret})

	// Baseline: the sender alone, 128 at a time (as many as the workers).
	base := sink.count()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 128 {
		wg.Go(func() {
			for i := 0; time.Since(start) < 3*time.Second; i++ {
				m := scheduler.Message{DeliveryID: fmt.Sprint(w, i), IdempotencyKey: fmt.Sprintf("base-%d-%d", w, i), User: "base",
					Channel: engine.ChannelPush, Title: "t", Body: "b", UnsubscribeURL: "http://heed.test/u", SentAt: time.Now()}
				if err := wh.Send(ctx, m); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	baseRate := float64(sink.count()-base) / time.Since(start).Seconds()
	base = sink.count() // from here on, the load's messages
	t.Logf("baseline: the webhook sender alone posts %.0f messages/s to the sink", baseRate)

	// Shoppers: rate per region, one region per second of the load.
	n := rate * secs
	var next atomic.Int64
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				id := engine.UserID(fmt.Sprintf("d%07d", i))
				if _, err := db.PutUser(ctx, id, engine.Profile{Region: fmt.Sprintf("r%03d", i/rate), TimeZone: "Asia/Shanghai"}, time.Now()); err != nil {
					t.Error(err)
					return
				}
				rec := engine.ConsentRecord{ID: engine.NewID("con_"), User: id, Purpose: engine.PurposeMarketing, Channel: engine.ChannelPush,
					Status: engine.StatusGranted, RecordedAt: time.Now()}
				if err := db.AppendConsents(ctx, id, []engine.ConsentRecord{rec}, engine.Effects{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	rs := redistest.Start(t)
	rdb := rs.Client(t)
	camp := campaigns.NewService(db, svc, pol, campaigns.Options{Lookahead: time.Hour,
		UnsubscribeURL: func(d engine.Delivery) string { return "http://heed.test/unsubscribe/" + d.ID }}, log)
	s := scheduler.New(rdb, camp, camp, db, scheduler.Options{Namespace: "dl", Concurrency: 16, SendParallel: 32, Senders: map[engine.Channel]scheduler.Sender{engine.ChannelPush: wh}}, log)
	defer s.Close()
	sctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { s.Run(sctx); close(stopped) }()
	defer func() { stop(); <-stopped }()

	t0 := time.Now().Add(time.Duration(15+n/20000) * time.Second).Truncate(time.Second)
	for k := range secs {
		c, err := camp.Create(ctx, campaigns.Campaign{Name: fmt.Sprint("load ", k), Kind: campaigns.KindSegment,
			Offer:    campaigns.Offer{Type: campaigns.OfferDiscount, PercentOff: 10},
			Audience: campaigns.Audience{Regions: []string{fmt.Sprintf("r%03d", k)}},
			Channels: []engine.Channel{engine.ChannelPush},
			Schedule: campaigns.Schedule{SendAt: t0.Add(time.Duration(k) * time.Second).UTC().Format(time.RFC3339)},
			Message:  campaigns.Message{Title: "{{.Offer}}", Body: "{{.Offer}} {{.Code}}"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := camp.Transition(ctx, c.ID, campaigns.StatusActive); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := camp.Due(ctx, time.Now())
	if err != nil || len(jobs) != secs {
		t.Fatalf("due: %d jobs, %v", len(jobs), err)
	}
	for _, j := range jobs {
		if err := s.Dispatch(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	// Wait for planning, then withdraw consent for some shoppers of the
	// last seconds while the first ones are being sent.
	for sink.count()-base == 0 && time.Now().Before(t0.Add(time.Minute)) {
		time.Sleep(10 * time.Millisecond)
	}
	if time.Now().After(t0.Add(2 * time.Second)) {
		t.Logf("warning: the first message arrived at %s, planning took past the first due time", time.Now().Sub(t0))
	}
	if path := os.Getenv("HEED_DELIVERY_PROFILE"); path != "" { // the delivery phase alone
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	// Withdraw consent for shoppers of the second being sent right now:
	// some were decided (and claimed) before the withdrawal, and their
	// messages leave after it; none may be decided after it.
	withdrawn := map[engine.UserID]time.Time{}
	for k := 1; k < secs-1; k++ {
		for j := 0; j < 20; j++ {
			// Spread over the time the second's messages are sent, about a
			// second or two after it (asynq moves due tasks every second).
			time.Sleep(time.Until(t0.Add(time.Duration(k)*time.Second + time.Second + time.Duration(j)*75*time.Millisecond)))
			id := engine.UserID(fmt.Sprintf("d%07d", k*rate+j*(rate/20)))
			rec := engine.ConsentRecord{ID: engine.NewID("con_"), User: id, Purpose: engine.PurposeMarketing, Channel: engine.ChannelPush,
				Status: engine.StatusWithdrawn, RecordedAt: time.Now()}
			if _, err := svc.RecordConsents(ctx, id, []engine.ConsentRecord{rec}); err != nil {
				t.Fatal(err)
			}
			withdrawn[id] = time.Now() // acknowledged
		}
	}
	deadline := t0.Add(time.Duration(secs)*time.Second + 3*time.Minute)
	settled := func() bool { // every delivery final
		ds, err := db.DueDeliveries(ctx, time.Now().Add(time.Hour), 1)
		return err == nil && len(ds) == 0
	}
	for !settled() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // room for a late duplicate

	got := sink.snapshot()
	var first, last time.Time
	var lateness []time.Duration
	dups, early, afterWithdrawal := 0, 0, 0
	var worstGap time.Duration
	for key, r := range got {
		if strings.HasPrefix(key, "base-") {
			continue
		}
		dups += r.n - 1
		if first.IsZero() || r.at.Before(first) {
			first = r.at
		}
		if r.at.After(last) {
			last = r.at
		}
		k, _ := strconv.Atoi(strings.TrimPrefix(string(r.user), "d"))
		due := t0.Add(time.Duration(k/rate) * time.Second)
		if r.at.Before(due) {
			early++
		}
		lateness = append(lateness, r.at.Sub(due))
		if ack, ok := withdrawn[r.user]; ok && r.at.After(ack) {
			afterWithdrawal++
			worstGap = max(worstGap, r.at.Sub(ack))
			ds, err := db.UserDeliveries(ctx, r.user)
			if err != nil || len(ds) != 1 {
				t.Fatalf("deliveries of %s: %v, %v", r.user, ds, err)
			}
			if dec, err := db.Decision(ctx, ds[0].DecisionID); err != nil || !dec.At.Before(ack) {
				t.Errorf("%s was sent on a decision taken at %s, after the withdrawal at %s (%v)", r.user, dec.At, ack, err)
			}
		}
	}
	slices.Sort(lateness)
	sent := len(lateness)
	pct := func(p float64) time.Duration {
		if sent == 0 {
			return 0
		}
		return lateness[min(sent-1, int(p*float64(sent)))]
	}
	thr := float64(sent) / last.Sub(first).Seconds()
	t.Logf("delivered %d of %d messages (%d shoppers withdrew during the load) due over %d s: %.0f deliveries/s from the first message to the last (%.2fx the baseline sender)",
		sent, n, len(withdrawn), secs, thr, thr/baseRate)
	t.Logf("lateness against the due second: p50 %s, p99 %s, max %s; duplicates %d; early %d",
		pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), pct(1).Round(time.Millisecond), dups, early)
	t.Logf("withdrawals: %d acknowledged while their second was being sent; %d of those shoppers still got the message, each decided before the withdrawal, the latest %s after it",
		len(withdrawn), afterWithdrawal, worstGap.Round(time.Millisecond))
	if dups != 0 || early != 0 {
		t.Errorf("%d duplicates and %d early sends; want none", dups, early)
	}
	if sent < n-len(withdrawn) {
		t.Errorf("%d messages arrived, want at least %d", sent, n-len(withdrawn))
	}
}

// A loadSink records the messages it receives, by idempotency key.
type loadSink struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]loadReceipt
	n   atomic.Int64
}

type loadReceipt struct {
	user engine.UserID
	at   time.Time
	n    int
}

func newLoadSink() *loadSink {
	s := &loadSink{got: map[string]loadReceipt{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		var m struct {
			Key  string        `json:"idempotency_key"`
			User engine.UserID `json:"user_id"`
		}
		if err := json.NewDecoder(req.Body).Decode(&m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		r := s.got[m.Key]
		if r.n == 0 {
			r.user, r.at = m.User, at
		}
		r.n++
		s.got[m.Key] = r
		s.mu.Unlock()
		s.n.Add(1)
	}))
	return s
}

// count is how many distinct messages arrived.
func (s *loadSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *loadSink) snapshot() map[string]loadReceipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.got)
}
