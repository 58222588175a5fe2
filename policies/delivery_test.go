package policies_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
	"heed/policies"
)

// deliveryT0 is a Monday, 10:00 UTC: the "now" of the table tests.
var deliveryT0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// baseDelivery is a question the shipped policy allows: an adult with a
// global marketing grant, push (in the app) then email, no caps reached,
// outside quiet hours, a window of eight days.
func baseDelivery() engine.DeliveryQuestion {
	t0 := deliveryT0
	return engine.DeliveryQuestion{
		Now: t0,
		Records: []engine.ConsentRecord{{ID: "r-all", User: "u1", Purpose: engine.PurposeMarketing,
			Status: engine.StatusGranted, NoticeVersion: "v1", RecordedAt: t0.Add(-30 * 24 * time.Hour)}},
		Notice: engine.NoticeRule{Valid: []string{"v1"}},
		Channels: []engine.ChannelFacts{
			{Channel: engine.ChannelPush, Touchpoint: engine.TouchpointApp, Enabled: true, MaxPerDay: 2, MaxPerWeek: 5},
			{Channel: engine.ChannelEmail, Enabled: true},
		},
		OfferType:  "discount",
		OfferTypes: []string{"discount", "points"},
		DayEnds:    t0.Add(14 * time.Hour),                // local midnight
		WeekEnds:   t0.Add(6*24*time.Hour + 14*time.Hour), // next Monday
		WindowEnd:  t0.Add(8 * 24 * time.Hour),
	}
}

// marketingRecord is a marketing record at hour h relative to deliveryT0.
func marketingRecord(id string, h int, ch engine.Channel, tp engine.Touchpoint, st engine.Status) engine.ConsentRecord {
	return engine.ConsentRecord{ID: id, User: "u1", Purpose: engine.PurposeMarketing, Channel: ch, Touchpoint: tp,
		Status: st, NoticeVersion: "v1", RecordedAt: deliveryT0.Add(time.Duration(h) * time.Hour)}
}

func suppressed(reason string) engine.DeliveryVerdict { return engine.DeliveryVerdict{Reason: reason} }

func deferred(reason string, until time.Time) engine.DeliveryVerdict {
	return engine.DeliveryVerdict{Reason: reason, DeferUntil: until}
}

func sent(ch engine.Channel, record string) engine.DeliveryVerdict {
	return engine.DeliveryVerdict{Allow: true, Channel: ch, RecordID: record}
}

// deliveryCases are the table of send-time decisions, each checked against
// both the policy and engine.DecideDelivery under the shipped marketing cap
// (3 a day, 10 a week).
func deliveryCases() []struct {
	name string
	edit func(q *engine.DeliveryQuestion)
	want engine.DeliveryVerdict
} {
	t0 := deliveryT0
	day, week := t0.Add(14*time.Hour), t0.Add(6*24*time.Hour+14*time.Hour)
	return []struct {
		name string
		edit func(q *engine.DeliveryQuestion)
		want engine.DeliveryVerdict
	}{
		{"allowed on the first channel", func(q *engine.DeliveryQuestion) {}, sent(engine.ChannelPush, "r-all")},
		{"erased", func(q *engine.DeliveryQuestion) { q.Erased = true }, suppressed(engine.ReasonErased)},
		{"erased before everything", func(q *engine.DeliveryQuestion) {
			q.Erased, q.Now, q.OfferTypes, q.Subject.Minor = true, q.WindowEnd, nil, true
		}, suppressed(engine.ReasonErased)},
		{"window passed at its end", func(q *engine.DeliveryQuestion) { q.Now = q.WindowEnd }, suppressed(engine.ReasonWindowPassed)},
		{"window passed after its end", func(q *engine.DeliveryQuestion) { q.WindowEnd = t0.Add(-time.Minute) }, suppressed(engine.ReasonWindowPassed)},
		{"offer type opted out", func(q *engine.DeliveryQuestion) { q.OfferType = "free_shipping" }, suppressed(engine.ReasonOfferTypeOptOut)},
		{"no offer type accepted", func(q *engine.DeliveryQuestion) { q.OfferTypes = nil }, suppressed(engine.ReasonOfferTypeOptOut)},
		{"minor without guardian consent", func(q *engine.DeliveryQuestion) { q.Subject.Minor = true }, suppressed(engine.ReasonMinorDelivery)},
		{"minor with guardian consent, grant not by the guardian", func(q *engine.DeliveryQuestion) {
			q.Subject = engine.Subject{Minor: true, GuardianConsent: true}
		}, suppressed(engine.ReasonMinorDelivery)},
		{"minor with guardian consent, grant by the guardian", func(q *engine.DeliveryQuestion) {
			q.Subject = engine.Subject{Minor: true, GuardianConsent: true}
			q.Records[0].Actor = engine.ActorGuardian
		}, sent(engine.ChannelPush, "r-all")},
		{"no consent", func(q *engine.DeliveryQuestion) { q.Records = nil }, suppressed(engine.ReasonNoConsent)},
		{"consent for another purpose only", func(q *engine.DeliveryQuestion) {
			q.Records[0].Purpose = engine.PurposeAnalytics
		}, suppressed(engine.ReasonNoConsent)},
		{"denied counts as no consent", func(q *engine.DeliveryQuestion) {
			q.Records = append(q.Records, marketingRecord("r-deny", -2, "", "", engine.StatusDenied))
		}, suppressed(engine.ReasonNoConsent)},
		{"consent withdrawn", func(q *engine.DeliveryQuestion) {
			q.Records = append(q.Records, marketingRecord("r-off", -2, "", "", engine.StatusWithdrawn))
		}, suppressed(engine.ReasonConsentWithdrawn)},
		{"expired grant", func(q *engine.DeliveryQuestion) { q.Records[0].ExpiresAt = t0 }, suppressed(engine.ReasonNoConsent)},
		{"needs reconsent", func(q *engine.DeliveryQuestion) { q.Notice.Valid = []string{"v2"} }, suppressed(engine.ReasonNeedsReconsent)},
		{"channels disabled", func(q *engine.DeliveryQuestion) {
			q.Channels[0].Enabled, q.Channels[1].Enabled = false, false
		}, suppressed(engine.ReasonChannelDisabled)},
		{"first channel disabled, second used", func(q *engine.DeliveryQuestion) { q.Channels[0].Enabled = false },
			sent(engine.ChannelEmail, "r-all")},
		{"no channels", func(q *engine.DeliveryQuestion) { q.Channels = nil }, suppressed(engine.ReasonNoConsent)},
		{"channel daily cap: defer to the day's end", func(q *engine.DeliveryQuestion) {
			q.Channels = q.Channels[:1]
			q.Channels[0].SentToday, q.Channels[0].SentWeek = 2, 2
		}, deferred(engine.ReasonFrequencyCap, day)},
		{"channel weekly cap: defer to the week's end", func(q *engine.DeliveryQuestion) {
			q.Channels = q.Channels[:1]
			q.Channels[0].SentWeek = 5
		}, deferred(engine.ReasonFrequencyCap, week)},
		{"channel daily and weekly caps: the week's end", func(q *engine.DeliveryQuestion) {
			q.Channels = q.Channels[:1]
			q.Channels[0].SentToday, q.Channels[0].SentWeek = 2, 5
		}, deferred(engine.ReasonFrequencyCap, week)},
		{"global daily cap: defer to the day's end", func(q *engine.DeliveryQuestion) {
			q.SentToday, q.SentThisWeek = 3, 3
		}, deferred(engine.ReasonFrequencyCap, day)},
		{"global weekly cap: defer to the week's end", func(q *engine.DeliveryQuestion) {
			q.SentToday, q.SentThisWeek = 1, 10
		}, deferred(engine.ReasonFrequencyCap, week)},
		{"global daily cap and a channel's weekly cap: the later reset", func(q *engine.DeliveryQuestion) {
			q.Channels = q.Channels[:1]
			q.Channels[0].SentWeek = 5
			q.SentToday, q.SentThisWeek = 3, 5
		}, deferred(engine.ReasonFrequencyCap, week)},
		{"global weekly cap and a channel's daily cap: the later reset", func(q *engine.DeliveryQuestion) {
			q.Channels = q.Channels[:1]
			q.Channels[0].SentToday, q.Channels[0].SentWeek = 2, 2
			q.SentToday, q.SentThisWeek = 2, 10
		}, deferred(engine.ReasonFrequencyCap, week)},
		{"two channels capped: the earliest reset", func(q *engine.DeliveryQuestion) {
			q.Channels[0].SentToday, q.Channels[0].SentWeek = 2, 2  // push: day's end
			q.Channels[1].MaxPerWeek, q.Channels[1].SentWeek = 3, 3 // email: week's end
		}, deferred(engine.ReasonFrequencyCap, day)},
		{"first channel capped, second used", func(q *engine.DeliveryQuestion) {
			q.Channels[0].SentToday = 2
		}, sent(engine.ChannelEmail, "r-all")},
		{"first channel withdrawn, second capped: defer", func(q *engine.DeliveryQuestion) {
			q.Records = append(q.Records, marketingRecord("r-push-off", -2, engine.ChannelPush, "", engine.StatusWithdrawn))
			q.Channels[1].MaxPerDay, q.Channels[1].SentToday = 1, 1
		}, deferred(engine.ReasonFrequencyCap, day)},
		{"first channel withdrawn, second disabled: the first's reason", func(q *engine.DeliveryQuestion) {
			q.Records = append(q.Records, marketingRecord("r-push-off", -2, engine.ChannelPush, "", engine.StatusWithdrawn))
			q.Channels[1].Enabled = false
		}, suppressed(engine.ReasonConsentWithdrawn)},
		{"campaign cap: defer to the period's end", func(q *engine.DeliveryQuestion) {
			q.CampaignCap, q.CampaignSent, q.CampaignCapEnds = 1, 1, t0.Add(20*time.Hour)
		}, deferred(engine.ReasonFrequencyCap, t0.Add(20*time.Hour))},
		{"campaign cap not reached", func(q *engine.DeliveryQuestion) {
			q.CampaignCap, q.CampaignSent, q.CampaignCapEnds = 2, 1, t0.Add(20*time.Hour)
		}, sent(engine.ChannelPush, "r-all")},
		{"per-campaign cap never resets: suppress", func(q *engine.DeliveryQuestion) {
			q.CampaignCap, q.CampaignSent = 1, 1
		}, suppressed(engine.ReasonFrequencyCap)},
		{"campaign cap reset after the window: window passed", func(q *engine.DeliveryQuestion) {
			q.CampaignCap, q.CampaignSent, q.CampaignCapEnds = 1, 3, q.WindowEnd
		}, suppressed(engine.ReasonWindowPassed)},
		{"quiet hours: defer to their end", func(q *engine.DeliveryQuestion) {
			q.Quiet, q.QuietEnds = true, t0.Add(8*time.Hour)
		}, deferred(engine.ReasonQuietHours, t0.Add(8*time.Hour))},
		{"quiet hours before the campaign cap", func(q *engine.DeliveryQuestion) {
			q.Quiet, q.QuietEnds = true, t0.Add(8*time.Hour)
			q.CampaignCap, q.CampaignSent = 1, 1
		}, deferred(engine.ReasonQuietHours, t0.Add(8*time.Hour))},
		{"quiet hours without an end", func(q *engine.DeliveryQuestion) { q.Quiet = true }, suppressed(engine.ReasonQuietHours)},
		{"quiet hours end after the window: window passed", func(q *engine.DeliveryQuestion) {
			q.Quiet, q.QuietEnds = true, q.WindowEnd.Add(time.Hour)
		}, suppressed(engine.ReasonWindowPassed)},
		{"quiet hours end exactly at the window's end: window passed", func(q *engine.DeliveryQuestion) {
			q.Quiet, q.QuietEnds = true, q.WindowEnd
		}, suppressed(engine.ReasonWindowPassed)},
		{"caps reset after the window: window passed", func(q *engine.DeliveryQuestion) {
			q.WindowEnd = t0.Add(5 * time.Hour)
			q.SentToday = 3
		}, suppressed(engine.ReasonWindowPassed)},
		{"consent before quiet hours: no consent is not deferred", func(q *engine.DeliveryQuestion) {
			q.Records = nil
			q.Quiet, q.QuietEnds = true, t0.Add(8*time.Hour)
		}, suppressed(engine.ReasonNoConsent)},
		{"channel fallback: first withdrawn, second granted on its own record", func(q *engine.DeliveryQuestion) {
			q.Records = append(q.Records,
				marketingRecord("r-push-off", -3, engine.ChannelPush, "", engine.StatusWithdrawn),
				marketingRecord("r-email", -2, engine.ChannelEmail, "", engine.StatusGranted))
		}, sent(engine.ChannelEmail, "r-email")},
		{"touchpoint: an app-only withdrawal stops push, not email", func(q *engine.DeliveryQuestion) {
			q.Records = append(q.Records, marketingRecord("r-app-off", -2, "", engine.TouchpointApp, engine.StatusWithdrawn))
		}, sent(engine.ChannelEmail, "r-all")},
		{"touchpoint: a web-only withdrawal does not stop push in the app", func(q *engine.DeliveryQuestion) {
			q.Records = append(q.Records, marketingRecord("r-web-off", -2, "", engine.TouchpointWeb, engine.StatusWithdrawn))
		}, sent(engine.ChannelPush, "r-all")},
		{"a later app grant re-allows push alone", func(q *engine.DeliveryQuestion) {
			q.Records = append(q.Records,
				marketingRecord("r-off", -3, "", "", engine.StatusWithdrawn),
				marketingRecord("r-app", -2, engine.ChannelPush, engine.TouchpointApp, engine.StatusGranted))
			q.Channels[0], q.Channels[1] = q.Channels[1], q.Channels[0]
		}, sent(engine.ChannelPush, "r-app")},
	}
}

func TestDelivery(t *testing.T) {
	ctx := context.Background()
	s := newSet(t)
	mcap, err := s.MarketingCap(ctx)
	if err != nil || mcap != (engine.MarketingCap{PerDay: 3, PerWeek: 10}) {
		t.Fatalf("MarketingCap = %+v, %v; want 3 a day, 10 a week", mcap, err)
	}
	for _, tt := range deliveryCases() {
		t.Run(tt.name, func(t *testing.T) {
			q := baseDelivery()
			tt.edit(&q)
			got, err := s.Delivery(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Delivery (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, engine.DecideDelivery(q, mcap)); diff != "" {
				t.Errorf("DecideDelivery (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeliveryMatchesDecideDelivery checks that the delivery policy and
// engine.DecideDelivery, the hand-written reference, agree on every field
// of the verdict over thousands of generated questions: ledgers of
// marketing records over channels, touchpoints, statuses, notice versions
// and expiries; preferences; counts around the caps; quiet hours; windows;
// minors and erased users. Times fall on the hour, so that resets, ends and
// windows often coincide. It runs under the shipped marketing cap and under
// two replaced ones (a daily cap alone, a weekly cap alone), each read back
// through MarketingCap.
func TestDeliveryMatchesDecideDelivery(t *testing.T) {
	n := 6000
	if testing.Short() {
		n = 600
	}
	ctx := context.Background()
	const capLine = `marketing_cap := {"per_day": 3, "per_week": 10}`
	for i, mcap := range []engine.MarketingCap{{PerDay: 3, PerWeek: 10}, {PerDay: 1}, {PerWeek: 4}} {
		s := newSet(t)
		if i > 0 {
			text := s.Modules()["delivery"]
			if !strings.Contains(text, capLine) {
				t.Fatal("delivery.rego changed shape: update the test")
			}
			changed := fmt.Sprintf(`marketing_cap := {"per_day": %d, "per_week": %d}`, mcap.PerDay, mcap.PerWeek)
			if err := s.Replace(ctx, "delivery", strings.Replace(text, capLine, changed, 1)); err != nil {
				t.Fatalf("Replace delivery: %v", err)
			}
		}
		t.Run(fmt.Sprintf("cap%d-%d", mcap.PerDay, mcap.PerWeek), func(t *testing.T) {
			t.Parallel()
			if got, err := s.MarketingCap(ctx); err != nil || got != mcap {
				t.Fatalf("MarketingCap = %+v, %v; want %+v", got, err, mcap)
			}
			rng := rand.New(rand.NewPCG(20260302, uint64(i)))
			outcomes := map[string]int{}
			for k := range n {
				q := randomDelivery(rng)
				got, err := s.Delivery(ctx, q)
				if err != nil {
					t.Fatalf("case %d: %v", k, err)
				}
				want := engine.DecideDelivery(q, mcap)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("case %d: policy and DecideDelivery differ (-DecideDelivery +policy):\n%s\n%s", k, diff, describeDelivery(q))
				}
				outcomes[outcome(want)]++
				if want.Allow && want.Channel != q.Channels[0].Channel {
					outcomes["sent on a later channel"]++
				}
			}
			// The generator must reach every outcome, each often enough to matter.
			for _, o := range []string{"sent", "sent on a later channel", engine.ReasonErased, engine.ReasonWindowPassed, engine.ReasonOfferTypeOptOut,
				engine.ReasonMinorDelivery, engine.ReasonNoConsent, engine.ReasonConsentWithdrawn, engine.ReasonNeedsReconsent,
				engine.ReasonChannelDisabled, engine.ReasonFrequencyCap, "deferred " + engine.ReasonFrequencyCap,
				engine.ReasonQuietHours, "deferred " + engine.ReasonQuietHours} {
				if !testing.Short() && outcomes[o] < n/500 {
					t.Errorf("only %d of %d cases decided %s", outcomes[o], n, o)
				}
			}
			t.Logf("%d cases: %v", n, outcomes)
		})
	}
}

func outcome(v engine.DeliveryVerdict) string {
	switch {
	case v.Allow:
		return "sent"
	case !v.DeferUntil.IsZero():
		return "deferred " + v.Reason
	}
	return v.Reason
}

// randomDelivery returns a random question: few values per field, so that
// scopes overlap, times tie and counts sit on the caps.
func randomDelivery(rng *rand.Rand) engine.DeliveryQuestion {
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	one := func(n int) bool { return rng.IntN(n) == 0 } // one chance in n
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := base.Add(time.Duration(24+rng.IntN(48)) * time.Hour)
	hours := func(lo, hi int) time.Time { return now.Add(time.Duration(lo+rng.IntN(hi-lo+1)) * time.Hour) }
	versions := []string{"", "v1", "v2"}

	q := engine.DeliveryQuestion{
		Now:     now,
		Erased:  one(40),
		Subject: engine.Subject{Minor: one(8), GuardianConsent: rng.IntN(2) == 0},
	}
	switch rng.IntN(8) {
	case 0:
		q.Notice.Valid = []string{}
	case 1, 2:
		q.Notice.Valid = []string{pick(versions...)}
	case 3:
		q.Notice.Valid = []string{pick(versions...), pick(versions...)}
	}
	if !one(5) { // most ledgers start with a global grant
		q.Records = append(q.Records, engine.ConsentRecord{ID: "r-all", Purpose: engine.PurposeMarketing,
			Status: engine.StatusGranted, NoticeVersion: pick(versions...), Actor: pick("", "guardian"), RecordedAt: hours(-30, -20)})
	}
	for i := range rng.IntN(7) {
		r := engine.ConsentRecord{
			ID:            fmt.Sprintf("r%d", i),
			Purpose:       engine.PurposeMarketing,
			Channel:       engine.Channel(pick("", "", "push", "email", "sms", "inapp")),
			Touchpoint:    engine.Touchpoint(pick("", "", "", "app", "web")),
			Status:        engine.Status(pick("granted", "granted", "granted", "denied", "withdrawn")),
			NoticeVersion: pick(versions...),
			Actor:         pick("", "self", "guardian"),
			RecordedAt:    hours(-20, 2),
		}
		if one(12) {
			r.Purpose = engine.PurposeAnalytics
		}
		if one(5) {
			r.ExpiresAt = hours(-4, 20)
		}
		q.Records = append(q.Records, r)
	}
	chans := slices.Clone(engine.Channels)
	rng.Shuffle(len(chans), func(i, j int) { chans[i], chans[j] = chans[j], chans[i] })
	nchans := 1 + rng.IntN(len(chans))
	if one(15) {
		nchans = 0
	}
	for _, ch := range chans[:nchans] {
		c := engine.ChannelFacts{Channel: ch, Touchpoint: engine.ChannelTouchpoint(ch), Enabled: !one(6)}
		if one(5) {
			c.Touchpoint = engine.Touchpoint(pick("", "app", "web"))
		}
		if rng.IntN(2) == 0 {
			c.MaxPerDay = 1 + rng.IntN(3)
		}
		if rng.IntN(2) == 0 {
			c.MaxPerWeek = max(c.MaxPerDay, 1) + rng.IntN(4)
		}
		c.SentToday = rng.IntN(max(c.MaxPerDay, 2) + 1)
		c.SentWeek = c.SentToday + rng.IntN(4)
		q.Channels = append(q.Channels, c)
	}
	offers := engine.OfferTypes
	q.OfferType = pick(offers...)
	for _, o := range offers {
		if o == q.OfferType && !one(8) || o != q.OfferType && rng.IntN(2) == 0 {
			q.OfferTypes = append(q.OfferTypes, o)
		}
	}
	if one(3) {
		q.Quiet = true
		if !one(6) {
			q.QuietEnds = hours(1, 14)
		}
	}
	q.SentToday = rng.IntN(5)
	q.SentThisWeek = q.SentToday + rng.IntN(9)
	q.DayEnds = hours(1, 24)
	q.WeekEnds = q.DayEnds.Add(time.Duration(rng.IntN(7)) * 24 * time.Hour)
	if one(20) { // not a calendar, but the two must still agree
		q.WeekEnds = hours(1, 24)
	}
	if rng.IntN(2) == 0 {
		q.CampaignCap = 1 + rng.IntN(3)
		q.CampaignSent = rng.IntN(q.CampaignCap + 2)
		if !one(3) {
			q.CampaignCapEnds = hours(1, 200)
		}
	}
	q.WindowEnd = hours(-2, 72)
	if one(10) {
		q.WindowEnd = now
	}
	return q
}

func describeDelivery(q engine.DeliveryQuestion) string {
	at := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Format("01-02T15")
	}
	s := fmt.Sprintf("now %s erased %v subject %+v notice %#v offer %q of %q quiet %v until %s\n"+
		"sent today %d week %d day ends %s week ends %s campaign %d/%d until %s window ends %s\n",
		at(q.Now), q.Erased, q.Subject, q.Notice.Valid, q.OfferType, q.OfferTypes, q.Quiet, at(q.QuietEnds),
		q.SentToday, q.SentThisWeek, at(q.DayEnds), at(q.WeekEnds), q.CampaignSent, q.CampaignCap, at(q.CampaignCapEnds), at(q.WindowEnd))
	for _, c := range q.Channels {
		s += fmt.Sprintf("  channel %+v\n", c)
	}
	for _, r := range q.Records {
		s += fmt.Sprintf("  %s %s %q %q %s notice=%q actor=%q at=%s expires=%s\n", r.ID, r.Purpose, r.Channel,
			r.Touchpoint, r.Status, r.NoticeVersion, r.Actor, at(r.RecordedAt), at(r.ExpiresAt))
	}
	return s
}

// A set whose delivery module no longer defines the decision is refused,
// and so is one whose decision answers in another shape; the old set stays
// in force.
func TestDeliveryReplaceRefused(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct{ name, text, want string }{
		{"entrypoint removed", "package heed.delivery\n\nmarketing_cap := {\"per_day\": 3}\n",
			"entrypoint data.heed.delivery.decision is not defined"},
		{"wrong shape", "package heed.delivery\n\ndecision := {\"allow\": true}\n", "data.heed.delivery.decision"},
		{"bad marketing cap", "package heed.delivery\n\nmarketing_cap := {\"per_day\": -1}\n\ndecision := {}\n",
			"data.heed.delivery.marketing_cap: per_day"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSet(t)
			rev := s.Revision()
			err := s.Replace(ctx, "delivery", tt.text)
			var pe *engine.PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, engine.ErrPolicyReject) {
				t.Fatalf("Replace = %v, want a *engine.PolicyError", err)
			}
			if !strings.Contains(strings.Join(pe.Errors, "\n"), tt.want) {
				t.Errorf("errors %q, want one containing %q", pe.Errors, tt.want)
			}
			if s.Revision() != rev {
				t.Error("the refused change took effect")
			}
			if v, err := s.Delivery(ctx, baseDelivery()); err != nil || !v.Allow {
				t.Errorf("after the refusal Delivery = %+v, %v; want allowed", v, err)
			}
		})
	}
}

// PUT /v1/policies/delivery: a replaced delivery module takes effect, cap
// included, on the next decision.
func TestDeliveryReplace(t *testing.T) {
	ctx := context.Background()
	s := newSet(t)
	text := s.Modules()["delivery"]
	const capLine = `marketing_cap := {"per_day": 3, "per_week": 10}`
	if !strings.Contains(text, capLine) {
		t.Fatal("delivery.rego changed shape: update the test")
	}
	q := baseDelivery()
	q.SentToday, q.SentThisWeek = 2, 2
	if v, err := s.Delivery(ctx, q); err != nil || !v.Allow {
		t.Fatalf("before the change Delivery = %+v, %v; want allowed", v, err)
	}
	if err := s.Replace(ctx, "delivery", strings.Replace(text, capLine, `marketing_cap := {"per_day": 2, "per_week": 10}`, 1)); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if mcap, err := s.MarketingCap(ctx); err != nil || mcap != (engine.MarketingCap{PerDay: 2, PerWeek: 10}) {
		t.Errorf("MarketingCap = %+v, %v; want 2 a day, 10 a week", mcap, err)
	}
	want := deferred(engine.ReasonFrequencyCap, baseDelivery().DayEnds)
	if v, err := s.Delivery(ctx, q); err != nil || !cmp.Equal(v, want) {
		t.Errorf("after the change Delivery = %+v, %v; want %+v", v, err, want)
	}

	// A delivery module without a marketing cap caps nothing.
	noCap := "package heed.delivery\n\ndecision := {\"allow\": false, \"channel\": \"\", \"record_id\": \"\", \"reason\": \"no_consent\", \"defer_until\": 0}\n"
	if err := s.Replace(ctx, "delivery_test", "package heed.delivery_test\n"); err != nil {
		t.Fatalf("Replace delivery_test: %v", err)
	}
	if err := s.Replace(ctx, "delivery", noCap); err != nil {
		t.Fatalf("Replace without marketing_cap: %v", err)
	}
	if mcap, err := s.MarketingCap(ctx); err != nil || mcap != (engine.MarketingCap{}) {
		t.Errorf("MarketingCap without marketing_cap = %+v, %v; want zero, no error", mcap, err)
	}
	if v, err := s.Delivery(ctx, q); err != nil || v.Allow || v.Reason != engine.ReasonNoConsent {
		t.Errorf("Delivery = %+v, %v; want the new module's no_consent", v, err)
	}
}

// A policy set without the delivery package (a directory written before
// it) loads, but its Delivery fails closed: an error, never an allow. Its
// marketing cap is zero.
func TestDeliveryWithoutPolicyFailsClosed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, name := range []string{"authz", "authz_test", "consent", "consent_test", "collect", "collect_test"} {
		src, err := os.ReadFile(name + ".rego")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".rego"), src, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := policies.New(ctx, policies.Options{Dir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New without delivery.rego: %v", err)
	}
	v, err := s.Delivery(ctx, baseDelivery())
	if err == nil || v.Allow || !strings.Contains(err.Error(), "data.heed.delivery.decision") {
		t.Errorf("Delivery without the policy = %+v, %v; want an error naming the entrypoint", v, err)
	}
	if mcap, err := s.MarketingCap(ctx); err != nil || mcap != (engine.MarketingCap{}) {
		t.Errorf("MarketingCap without the policy = %+v, %v; want zero, no error", mcap, err)
	}
	// Adding the module puts the decision in force.
	src, err := os.ReadFile("delivery.rego")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, "delivery", string(src)); err != nil {
		t.Fatalf("Replace(delivery): %v", err)
	}
	if v, err := s.Delivery(ctx, baseDelivery()); err != nil || !v.Allow {
		t.Errorf("after adding delivery.rego Delivery = %+v, %v; want allowed", v, err)
	}
}
