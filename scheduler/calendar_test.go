package scheduler_test

import (
	"slices"
	"testing"
	"time"

	"heed/campaigns"
	"heed/engine"
	"heed/scheduler"
)

// Birthdays are planned on each user's own local date: a Feb 29 birthday
// on Feb 28 in 2027 (a common year) and on Feb 29 in 2028, and a user in
// Asia/Shanghai is due 16 hours before one in America/Los_Angeles for the
// same 10:00 local send time.
func TestBirthdaysOnTheirOwnLocalDate(t *testing.T) {
	r := newRig(t)
	r.user(t, "leap", engine.Profile{Birthday: "02-29", TimeZone: "Asia/Shanghai"}, []engine.Channel{engine.ChannelPush}, nil)
	r.user(t, "sh", engine.Profile{Birthday: "1990-02-28", TimeZone: "Asia/Shanghai"}, []engine.Channel{engine.ChannelPush}, nil)
	r.user(t, "la", engine.Profile{Birthday: "02-28", TimeZone: "America/Los_Angeles"}, []engine.Channel{engine.ChannelPush}, nil)
	r.user(t, "mar", engine.Profile{Birthday: "03-01", TimeZone: "Asia/Shanghai"}, []engine.Channel{engine.ChannelPush}, nil)
	r.campaign(t, campaigns.Campaign{Kind: campaigns.KindBirthday, Schedule: campaigns.Schedule{Cron: "0 10 * * *"},
		Offer: campaigns.Offer{Type: campaigns.OfferThreshold, Spend: 300, AmountOff: 50}})

	plan := func(now time.Time, label string) map[engine.UserID]time.Time {
		t.Helper()
		jobs, err := r.camp.Due(r.ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(jobs, func(j engine.PlanJob) bool { return j.Label == label })
		if i < 0 {
			t.Fatalf("at %s, Due planned %v, not %s", now, jobs, label)
		}
		res, err := r.camp.PlanChunk(r.ctx, jobs[i], "", "")
		if err != nil {
			t.Fatal(err)
		}
		out := map[engine.UserID]time.Time{}
		for _, ct := range res.Contacts {
			out[ct.User] = ct.Due
		}
		return out
	}
	// 2027-02-28 10:00 is first due at UTC+14, 2027-02-27 20:00 UTC.
	got := plan(time.Date(2027, 2, 27, 19, 30, 0, 0, time.UTC), "2027-02-28")
	want := map[engine.UserID]time.Time{
		"leap": time.Date(2027, 2, 28, 2, 0, 0, 0, time.UTC),
		"sh":   time.Date(2027, 2, 28, 2, 0, 0, 0, time.UTC),
		"la":   time.Date(2027, 2, 28, 18, 0, 0, 0, time.UTC),
	}
	if len(got) != len(want) {
		t.Errorf("2027-02-28 planned %v, want %v", got, want)
	}
	for u, due := range want {
		if !got[u].Equal(due) {
			t.Errorf("2027-02-28: %s due %s, want %s", u, got[u], due)
		}
	}
	got = plan(time.Date(2028, 2, 27, 19, 30, 0, 0, time.UTC), "2028-02-28")
	if _, ok := got["leap"]; ok || len(got) != 2 {
		t.Errorf("2028-02-28 planned %v; want sh and la, not leap (2028 has a Feb 29)", got)
	}
	got = plan(time.Date(2028, 2, 28, 19, 30, 0, 0, time.UTC), "2028-02-29")
	if len(got) != 1 || !got["leap"].Equal(time.Date(2028, 2, 29, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("2028-02-29 planned %v, want leap alone at 02:00 UTC", got)
	}
}

// Quiet hours in the shopper's zone defer a message to the end of the
// quiet window there; it is not sent before.
func TestQuietHoursDeferToTheirEnd(t *testing.T) {
	r := newRig(t)
	loc, _ := time.LoadLocation("America/Los_Angeles")
	now := time.Now().In(loc)
	end := now.Truncate(time.Minute).Add(time.Minute)
	if end.Sub(now) < 15*time.Second {
		end = end.Add(time.Minute)
	}
	prefs := engine.DefaultPreferences()
	prefs.QuietHours = &engine.QuietHours{Start: now.Add(-time.Hour).Format("15:04"), End: end.Format("15:04")}
	r.user(t, "night", engine.Profile{TimeZone: "America/Los_Angeles"}, []engine.Channel{engine.ChannelPush}, &prefs)
	s, _ := r.scheduler(t, scheduler.Options{})
	c := r.campaign(t, campaigns.Campaign{})
	run, err := r.camp.RunNow(r.ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Dispatch(r.ctx, engine.PlanJob{Campaign: c.ID, Run: run.ID, Now: run.Now}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the delivery deferred", func() bool {
		return r.deliveries(t, c.ID)["night"].Status == engine.DeliveryDeferred
	})
	d := r.deliveries(t, c.ID)["night"]
	if d.Reason != engine.ReasonQuietHours || !d.DeferredUntil.Equal(end) {
		t.Fatalf("deferred %+v, want quiet_hours until %s", d, end.UTC())
	}
	waitFor(t, 2*time.Minute, "the message", func() bool { return r.sink.count() == 1 })
	if m := r.sink.messages()[0]; m.At.Before(end) {
		t.Errorf("sent at %s, before the quiet hours ended at %s", m.At, end)
	}
	if d := r.deliveries(t, c.ID)["night"]; d.Status != engine.DeliverySent {
		t.Errorf("delivery %+v, want sent", d)
	}
}
