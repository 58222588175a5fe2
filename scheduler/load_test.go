package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
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
)

// TestPlanningLoad plans one occurrence of a campaign for HEED_PLAN_USERS
// synthetic users of realistic shape and reports how long planning took,
// next to a plain scan of the same users' facts measured in the same run
// (the baseline), and how much Redis memory the scheduled deliveries take.
// It is skipped unless HEED_PLAN_USERS is set; HEED_PLAN_DIR keeps the
// users in a directory, loaded once and reused by later runs.
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
	svc := engine.NewService(db, pol, engine.Options{}, log)
	if have, _ := db.UserBounds(ctx, n); len(have) == 0 {
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
	after2, _ := usedMemory(ctx, rdb)
	t.Logf("planned occurrence %s for %d users in %s (%.0f users/s, %.2fx the baseline scan): audience %d, scheduled %d, left out %v",
		job.Label, users, took.Round(time.Millisecond), float64(users)/took.Seconds(), took.Seconds()/scan.Seconds(),
		run.Audience, run.Scheduled, run.Suppressed)
	if run.Scheduled > 0 {
		t.Logf("Redis: %d bytes more, %.0f bytes per scheduled delivery", after2-before, float64(after2-before)/float64(run.Scheduled))
	}
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
