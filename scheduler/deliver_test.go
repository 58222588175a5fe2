package scheduler_test

import (
	"slices"
	"testing"
	"time"

	"heed/campaigns"
	"heed/engine"
	"heed/scheduler"
)

// A run sends to the users who allow it, through the first channel they
// allow, and leaves out the others by reason: no consent, a minor without
// guardian consent, an opted-out offer type.
func TestRunSendsOnlyWherePermitted(t *testing.T) {
	r := newRig(t)
	both := []engine.Channel{engine.ChannelPush, engine.ChannelEmail}
	r.user(t, "ann", engine.Profile{Name: "Ann"}, both, nil)
	r.user(t, "bob", engine.Profile{}, nil, nil)
	r.user(t, "kid", engine.Profile{Minor: true}, both, nil) // granted by a guardian, but no guardian consent on the profile
	pointsOnly := engine.DefaultPreferences()
	pointsOnly.OfferTypes = []string{"points"}
	r.user(t, "dee", engine.Profile{}, both, &pointsOnly)
	emailFirst := engine.DefaultPreferences()
	emailFirst.ChannelOrder = []engine.Channel{engine.ChannelEmail, engine.ChannelPush}
	r.user(t, "eve", engine.Profile{}, both, &emailFirst)

	s, _ := r.scheduler(t, scheduler.Options{})
	c := r.campaign(t, campaigns.Campaign{})
	run, err := r.camp.RunNow(r.ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Dispatch(r.ctx, engine.PlanJob{Campaign: c.ID, Run: run.ID, Now: run.Now}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "two messages", func() bool { return r.sink.count() >= 2 })
	time.Sleep(300 * time.Millisecond) // room for a wrong third

	got := map[engine.UserID]engine.Channel{}
	for _, m := range r.sink.messages() {
		got[m.User] = m.Channel
	}
	want := map[engine.UserID]engine.Channel{"ann": engine.ChannelPush, "eve": engine.ChannelEmail}
	if len(got) != 2 || got["ann"] != want["ann"] || got["eve"] != want["eve"] || r.sink.count() != 2 {
		t.Errorf("sink got %v (%d messages), want %v", got, r.sink.count(), want)
	}
	ds := r.deliveries(t, c.ID)
	ann := ds["ann"]
	if ann.Status != engine.DeliverySent || ann.ConsentRecordID == "" || ann.DecisionID == "" || ann.Channel != engine.ChannelPush {
		t.Errorf("ann's delivery = %+v, want sent by push with its consent record and decision", ann)
	}
	for _, u := range []engine.UserID{"bob", "kid", "dee"} {
		if d, ok := ds[u]; ok {
			t.Errorf("%s has a delivery %+v; users left out at planning have none", u, d)
		}
	}
	runs, err := r.camp.Runs(r.ctx, c.ID)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs = %v, %v", runs, err)
	}
	want2 := map[string]int{engine.ReasonNoConsent: 1, engine.ReasonMinorDelivery: 1, engine.ReasonOfferTypeOptOut: 1}
	for k, n := range want2 {
		if runs[0].Suppressed[k] != n {
			t.Errorf("run suppressed[%s] = %d, want %d (all: %v)", k, runs[0].Suppressed[k], n, runs[0].Suppressed)
		}
	}
	if runs[0].Audience != 5 || runs[0].Scheduled != 2 {
		t.Errorf("run audience %d scheduled %d, want 5 and 2", runs[0].Audience, runs[0].Scheduled)
	}
	entries, _, err := r.svc.Activity(r.ctx, "ann", "", 50)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(entries, func(e engine.ActivityEntry) bool {
		return e.Action == engine.ActionMessageSent && e.DecisionID == ann.DecisionID && e.Channel == engine.ChannelPush
	}) {
		t.Errorf("ann's usage log has no message_sent citing decision %s: %+v", ann.DecisionID, entries)
	}
}

// DESIGN invariants 1 and 2: a withdrawal after a delivery was scheduled
// and before it is due suppresses it at send time, consent_withdrawn, or
// moves it to another channel the campaign lists and the shopper allows.
func TestWithdrawalAfterSchedulingIsSeenAtSendTime(t *testing.T) {
	r := newRig(t)
	r.user(t, "both", engine.Profile{}, []engine.Channel{engine.ChannelPush, engine.ChannelEmail}, nil)
	r.user(t, "pushonly", engine.Profile{}, []engine.Channel{engine.ChannelPush}, nil)
	r.scheduler(t, scheduler.Options{Plan: true})
	due := time.Now().Add(3 * time.Second).Truncate(time.Second).Add(time.Second)
	c := r.campaign(t, campaigns.Campaign{Schedule: campaigns.Schedule{SendAt: due.UTC().Format(time.RFC3339)}})

	waitFor(t, 10*time.Second, "two scheduled deliveries", func() bool { return len(r.deliveries(t, c.ID)) == 2 })
	if time.Now().After(due) {
		t.Fatal("planning took until the due time; the test proves nothing")
	}
	r.withdraw(t, "both", engine.ChannelPush)
	r.withdraw(t, "pushonly", engine.ChannelPush)

	waitFor(t, 20*time.Second, "both deliveries final", func() bool {
		for _, d := range r.deliveries(t, c.ID) {
			if !d.Status.Final() {
				return false
			}
		}
		return true
	})
	ds := r.deliveries(t, c.ID)
	if d := ds["both"]; d.Status != engine.DeliverySent || d.Channel != engine.ChannelEmail {
		t.Errorf("both: %+v, want sent by email", d)
	}
	if d := ds["pushonly"]; d.Status != engine.DeliverySuppressed || d.Reason != engine.ReasonConsentWithdrawn {
		t.Errorf("pushonly: %+v, want suppressed consent_withdrawn", d)
	}
	for _, m := range r.sink.messages() {
		if m.Channel == engine.ChannelPush {
			t.Errorf("a push message went out after push was withdrawn: %+v", m)
		}
		if m.At.Before(due) {
			t.Errorf("a message went out at %s, before its due time %s", m.At, due)
		}
	}
	if r.sink.count() != 1 {
		t.Errorf("sink got %d messages, want 1", r.sink.count())
	}
	entries, _, err := r.svc.Activity(r.ctx, "pushonly", "", 50)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(entries, func(e engine.ActivityEntry) bool {
		return e.Action == engine.ActionMessageSuppress && e.Reason == engine.ReasonConsentWithdrawn && e.DecisionID != ""
	}) {
		t.Errorf("pushonly's usage log has no suppression with its reason and decision: %+v", entries)
	}
}
