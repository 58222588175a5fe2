package scheduler_test

import (
	"fmt"
	"testing"
	"time"

	"heed/campaigns"
	"heed/engine"
	"heed/scheduler"
)

// DESIGN invariant 5: frequency caps hold across campaigns and workers.
// Five campaigns run at once for the same shoppers, worked by two
// schedulers (each its own Redis connection and asynq server, as two
// worker processes would be): a shopper capped at one push a day gets one,
// and nobody gets more than the policy's marketing cap (3 a day).
func TestCapsHoldAcrossCampaignsAndWorkers(t *testing.T) {
	r := newRig(t)
	const users = 20
	onePush := engine.DefaultPreferences()
	onePush.Channels[engine.ChannelPush] = engine.ChannelPref{Enabled: true, MaxPerDay: 1}
	onePush.Channels[engine.ChannelEmail] = engine.ChannelPref{Enabled: false}
	for i := range users {
		var prefs *engine.Preferences
		if i%2 == 0 {
			prefs = &onePush
		}
		r.user(t, fmt.Sprintf("u%02d", i), engine.Profile{}, []engine.Channel{engine.ChannelPush, engine.ChannelEmail}, prefs)
	}
	mcap, err := r.pol.MarketingCap(r.ctx)
	if err != nil || mcap.PerDay == 0 {
		t.Fatalf("marketing cap = %+v, %v; the test needs a daily cap", mcap, err)
	}
	s1, _ := r.scheduler(t, scheduler.Options{Concurrency: 4, SendParallel: 4})
	r.scheduler(t, scheduler.Options{Concurrency: 4, SendParallel: 4})
	var ids []string
	for i := range 5 {
		c := r.campaign(t, campaigns.Campaign{Name: fmt.Sprintf("campaign %d", i)})
		ids = append(ids, c.ID)
	}
	for _, id := range ids {
		run, err := r.camp.RunNow(r.ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := s1.Dispatch(r.ctx, engine.PlanJob{Campaign: id, Run: run.ID, Now: run.Now}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		if t.Failed() {
			for _, id := range ids {
				for u, d := range r.deliveries(t, id) {
					if !d.Status.Final() && d.Status != engine.DeliveryDeferred {
						t.Logf("%s %s: %s %s lease %s deferred %s err %s", id, u, d.Status, d.Reason, d.LeaseUntil, d.DeferredUntil, d.LastError)
					}
				}
				runs, _ := r.camp.Runs(r.ctx, id)
				t.Logf("%s runs %+v (%d deliveries)", id, runs, len(r.deliveries(t, id)))
			}
		}
	}()
	// Planning may already foresee that a capped shopper cannot be sent a
	// campaign within its window (sends of the others came first): such a
	// user is counted in the run, not scheduled.
	plannedOut := func(id string) int {
		runs, err := r.camp.Runs(r.ctx, id)
		if err != nil || len(runs) != 1 || runs[0].ChunksDone != runs[0].Chunks {
			return -1
		}
		n := 0
		for _, k := range runs[0].Suppressed {
			n += k
		}
		return n
	}
	waitFor(t, 30*time.Second, "every delivery settled or deferred", func() bool {
		for _, id := range ids {
			ds := r.deliveries(t, id)
			if out := plannedOut(id); out < 0 || len(ds)+out != users {
				return false
			}
			for _, d := range ds {
				if d.Status == engine.DeliveryScheduled || d.Status == engine.DeliverySending {
					return false
				}
			}
		}
		return true
	})
	perUser := map[engine.UserID]int{}
	for _, m := range r.sink.messages() {
		perUser[m.User]++
	}
	capped := 0
	for i := range users {
		u := engine.UserID(fmt.Sprintf("u%02d", i))
		switch {
		case i%2 == 0 && perUser[u] != 1:
			t.Errorf("%s (one push a day, email off) got %d messages, want 1", u, perUser[u])
		case i%2 == 1 && perUser[u] != mcap.PerDay:
			t.Errorf("%s got %d messages, want the marketing cap, %d", u, perUser[u], mcap.PerDay)
		}
		for _, id := range ids {
			if d := r.deliveries(t, id)[u]; d.Reason == engine.ReasonFrequencyCap || d.Reason == engine.ReasonWindowPassed {
				capped++
			}
		}
	}
	for _, id := range ids {
		capped += plannedOut(id)
	}
	if want := users*5 - (users/2)*(1+mcap.PerDay); capped != want {
		t.Errorf("%d deliveries held back by caps, want %d", capped, want)
	}
}
