package engine_test

import (
	"testing"
	"time"

	"heed/engine"
)

// sendT0 is a Monday, 10:00 UTC: the "now" of the DecideDelivery tests.
var sendT0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

var (
	sendDayEnds  = sendT0.Add(14 * time.Hour)                // local midnight
	sendWeekEnds = sendT0.Add(6*24*time.Hour + 14*time.Hour) // next Monday
	shippedCap   = engine.MarketingCap{PerDay: 3, PerWeek: 10}
)

// sendQuestion is a question DecideDelivery allows: an adult with a global
// marketing grant, push (in the app, at most 2 a day and 5 a week) then
// email, nothing sent yet, outside quiet hours, a window of eight days.
func sendQuestion() engine.DeliveryQuestion {
	return engine.DeliveryQuestion{
		Now:     sendT0,
		Records: []engine.ConsentRecord{sendRecord("r-all", -720, "", "", engine.StatusGranted)},
		Notice:  engine.NoticeRule{Valid: []string{"v1"}},
		Channels: []engine.ChannelFacts{
			{Channel: engine.ChannelPush, Touchpoint: engine.TouchpointApp, Enabled: true, MaxPerDay: 2, MaxPerWeek: 5},
			{Channel: engine.ChannelEmail, Enabled: true},
		},
		OfferType:  "discount",
		OfferTypes: []string{"discount", "points"},
		DayEnds:    sendDayEnds,
		WeekEnds:   sendWeekEnds,
		WindowEnd:  sendT0.Add(8 * 24 * time.Hour),
	}
}

// sendRecord is a marketing record h hours after sendT0.
func sendRecord(id string, h int, c engine.Channel, tp engine.Touchpoint, st engine.Status) engine.ConsentRecord {
	return engine.ConsentRecord{ID: id, Purpose: engine.PurposeMarketing, Channel: c, Touchpoint: tp, Status: st,
		NoticeVersion: "v1", RecordedAt: sendT0.Add(time.Duration(h) * time.Hour)}
}

func TestDecideDelivery(t *testing.T) {
	at := func(h int) time.Time { return sendT0.Add(time.Duration(h) * time.Hour) }
	send := func(c engine.Channel, id string) engine.DeliveryVerdict {
		return engine.DeliveryVerdict{Allow: true, Channel: c, RecordID: id}
	}
	drop := func(reason string) engine.DeliveryVerdict { return engine.DeliveryVerdict{Reason: reason} }
	wait := func(reason string, until time.Time) engine.DeliveryVerdict {
		return engine.DeliveryVerdict{Reason: reason, DeferUntil: until}
	}
	withdrawPush := func(q *engine.DeliveryQuestion) {
		q.Records = append(q.Records, sendRecord("r-push-off", -2, engine.ChannelPush, "", engine.StatusWithdrawn))
	}
	tests := []struct {
		name string
		mcap engine.MarketingCap
		edit func(q *engine.DeliveryQuestion)
		want engine.DeliveryVerdict
	}{
		{"first channel", shippedCap, func(q *engine.DeliveryQuestion) {}, send(engine.ChannelPush, "r-all")},

		// 1-4: the user and the offer, in this order.
		{"erased", shippedCap, func(q *engine.DeliveryQuestion) { q.Erased = true }, drop(engine.ReasonErased)},
		{"erased before all else", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Erased, q.Now, q.OfferTypes, q.Subject.Minor = true, q.WindowEnd, nil, true
		}, drop(engine.ReasonErased)},
		{"window passed at its end", shippedCap, func(q *engine.DeliveryQuestion) { q.Now = q.WindowEnd }, drop(engine.ReasonWindowPassed)},
		{"window passed before the offer", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Now, q.OfferTypes = q.WindowEnd.Add(time.Minute), nil
		}, drop(engine.ReasonWindowPassed)},
		{"offer type opted out", shippedCap, func(q *engine.DeliveryQuestion) { q.OfferType = "free_shipping" }, drop(engine.ReasonOfferTypeOptOut)},
		{"offer before a minor", shippedCap, func(q *engine.DeliveryQuestion) {
			q.OfferTypes, q.Subject.Minor = nil, true
		}, drop(engine.ReasonOfferTypeOptOut)},
		{"minor without guardian consent", shippedCap, func(q *engine.DeliveryQuestion) { q.Subject.Minor = true }, drop(engine.ReasonMinorDelivery)},
		{"minor with guardian consent, own grant", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Subject = engine.Subject{Minor: true, GuardianConsent: true}
		}, drop(engine.ReasonMinorDelivery)},
		{"minor with guardian consent, guardian's grant", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Subject = engine.Subject{Minor: true, GuardianConsent: true}
			q.Records[0].Actor = engine.ActorGuardian
		}, send(engine.ChannelPush, "r-all")},

		// 5-6: consent and preferences, the first channel's reason.
		{"no records", shippedCap, func(q *engine.DeliveryQuestion) { q.Records = nil }, drop(engine.ReasonNoConsent)},
		{"no channels", shippedCap, func(q *engine.DeliveryQuestion) { q.Channels = nil }, drop(engine.ReasonNoConsent)},
		{"denied", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Records = append(q.Records, sendRecord("r-deny", -1, "", "", engine.StatusDenied))
		}, drop(engine.ReasonNoConsent)},
		{"withdrawn", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Records = append(q.Records, sendRecord("r-off", -1, "", "", engine.StatusWithdrawn))
		}, drop(engine.ReasonConsentWithdrawn)},
		{"needs reconsent", shippedCap, func(q *engine.DeliveryQuestion) { q.Notice.Valid = []string{"v2"} }, drop(engine.ReasonNeedsReconsent)},
		{"channels disabled", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Channels[0].Enabled, q.Channels[1].Enabled = false, false
		}, drop(engine.ReasonChannelDisabled)},
		{"first withdrawn, second disabled: the first's reason", shippedCap, func(q *engine.DeliveryQuestion) {
			withdrawPush(q)
			q.Channels[1].Enabled = false
		}, drop(engine.ReasonConsentWithdrawn)},
		{"first disabled, second withdrawn: the first's reason", shippedCap, func(q *engine.DeliveryQuestion) {
			withdrawPush(q)
			q.Channels[0], q.Channels[1] = q.Channels[1], q.Channels[0]
			q.Channels[0].Enabled = false
		}, drop(engine.ReasonChannelDisabled)},
		{"fallback to the second channel's own record", shippedCap, func(q *engine.DeliveryQuestion) {
			withdrawPush(q)
			q.Records = append(q.Records, sendRecord("r-email", -1, engine.ChannelEmail, "", engine.StatusGranted))
		}, send(engine.ChannelEmail, "r-email")},
		{"touchpoint: app-only withdrawal spares email", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Records = append(q.Records, sendRecord("r-app-off", -1, "", engine.TouchpointApp, engine.StatusWithdrawn))
		}, send(engine.ChannelEmail, "r-all")},

		// Caps: the channel's own, then the marketing cap.
		{"channel daily cap", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Channels = q.Channels[:1]
			q.Channels[0].SentToday, q.Channels[0].SentWeek = 2, 2
		}, wait(engine.ReasonFrequencyCap, sendDayEnds)},
		{"channel weekly cap", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Channels = q.Channels[:1]
			q.Channels[0].SentToday, q.Channels[0].SentWeek = 2, 5
		}, wait(engine.ReasonFrequencyCap, sendWeekEnds)},
		{"capped first channel, second used", shippedCap, func(q *engine.DeliveryQuestion) { q.Channels[0].SentToday = 2 },
			send(engine.ChannelEmail, "r-all")},
		{"earliest reset among capped channels", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Channels[0].SentWeek = 5                              // week's end
			q.Channels[1].MaxPerDay, q.Channels[1].SentToday = 1, 1 // day's end
		}, wait(engine.ReasonFrequencyCap, sendDayEnds)},
		{"withdrawn channel and capped channel: defer", shippedCap, func(q *engine.DeliveryQuestion) {
			withdrawPush(q)
			q.Channels[1].MaxPerWeek, q.Channels[1].SentWeek = 1, 1
		}, wait(engine.ReasonFrequencyCap, sendWeekEnds)},
		{"marketing cap per day", shippedCap, func(q *engine.DeliveryQuestion) {
			q.SentToday, q.SentThisWeek = 3, 3
		}, wait(engine.ReasonFrequencyCap, sendDayEnds)},
		{"marketing cap per week", shippedCap, func(q *engine.DeliveryQuestion) {
			q.SentToday, q.SentThisWeek = 3, 10
		}, wait(engine.ReasonFrequencyCap, sendWeekEnds)},
		{"marketing cap below", shippedCap, func(q *engine.DeliveryQuestion) {
			q.SentToday, q.SentThisWeek = 2, 9
		}, send(engine.ChannelPush, "r-all")},
		{"zero marketing cap caps nothing", engine.MarketingCap{}, func(q *engine.DeliveryQuestion) {
			q.SentToday, q.SentThisWeek = 50, 500
		}, send(engine.ChannelPush, "r-all")},
		{"weekly marketing cap only", engine.MarketingCap{PerWeek: 4}, func(q *engine.DeliveryQuestion) {
			q.SentToday, q.SentThisWeek = 4, 4
		}, wait(engine.ReasonFrequencyCap, sendWeekEnds)},
		{"channel daily cap under the weekly marketing cap: the later reset", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Channels = q.Channels[:1]
			q.Channels[0].SentToday = 2
			q.SentThisWeek = 10
		}, wait(engine.ReasonFrequencyCap, sendWeekEnds)},
		{"disabled channel is not deferred for caps", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Channels = q.Channels[:1]
			q.Channels[0].Enabled, q.Channels[0].SentToday = false, 2
		}, drop(engine.ReasonChannelDisabled)},

		// When: quiet hours, then the campaign's cap.
		{"quiet hours", shippedCap, func(q *engine.DeliveryQuestion) { q.Quiet, q.QuietEnds = true, at(8) },
			wait(engine.ReasonQuietHours, at(8))},
		{"quiet hours before the campaign cap", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Quiet, q.QuietEnds = true, at(8)
			q.CampaignCap, q.CampaignSent, q.CampaignCapEnds = 1, 1, at(20)
		}, wait(engine.ReasonQuietHours, at(8))},
		{"quiet hours without an end", shippedCap, func(q *engine.DeliveryQuestion) { q.Quiet = true }, drop(engine.ReasonQuietHours)},
		{"quiet hours do not defer a refusal", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Records = nil
			q.Quiet, q.QuietEnds = true, at(8)
		}, drop(engine.ReasonNoConsent)},
		{"campaign cap", shippedCap, func(q *engine.DeliveryQuestion) {
			q.CampaignCap, q.CampaignSent, q.CampaignCapEnds = 1, 1, at(20)
		}, wait(engine.ReasonFrequencyCap, at(20))},
		{"campaign cap not reached", shippedCap, func(q *engine.DeliveryQuestion) {
			q.CampaignCap, q.CampaignSent, q.CampaignCapEnds = 2, 1, at(20)
		}, send(engine.ChannelPush, "r-all")},
		{"per-campaign cap never resets", shippedCap, func(q *engine.DeliveryQuestion) {
			q.CampaignCap, q.CampaignSent = 1, 1
		}, drop(engine.ReasonFrequencyCap)},

		// A deferral to the window's end or later is window_passed.
		{"quiet hours end at the window's end", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Quiet, q.QuietEnds = true, q.WindowEnd
		}, drop(engine.ReasonWindowPassed)},
		{"quiet hours end just before the window's end", shippedCap, func(q *engine.DeliveryQuestion) {
			q.Quiet, q.QuietEnds = true, q.WindowEnd.Add(-time.Second)
		}, wait(engine.ReasonQuietHours, sendT0.Add(8*24*time.Hour-time.Second))},
		{"caps reset after the window", shippedCap, func(q *engine.DeliveryQuestion) {
			q.WindowEnd = at(5)
			q.SentToday = 3
		}, drop(engine.ReasonWindowPassed)},
		{"campaign period ends after the window", shippedCap, func(q *engine.DeliveryQuestion) {
			q.CampaignCap, q.CampaignSent, q.CampaignCapEnds = 1, 1, q.WindowEnd.Add(time.Hour)
		}, drop(engine.ReasonWindowPassed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := sendQuestion()
			tt.edit(&q)
			got := engine.DecideDelivery(q, tt.mcap)
			if got.Allow != tt.want.Allow || got.Channel != tt.want.Channel || got.RecordID != tt.want.RecordID ||
				got.Reason != tt.want.Reason || !got.DeferUntil.Equal(tt.want.DeferUntil) {
				t.Errorf("DecideDelivery = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// DecideDelivery reads the ledger through Fold at each channel's scope:
// the verdict's record is the one Fold names.
func TestDecideDeliveryRecordIsFolds(t *testing.T) {
	q := sendQuestion()
	q.Records = append(q.Records,
		sendRecord("r-push", -3, engine.ChannelPush, "", engine.StatusGranted),
		sendRecord("r-push-app", -2, engine.ChannelPush, engine.TouchpointApp, engine.StatusGranted),
		sendRecord("r-push-web", -1, engine.ChannelPush, engine.TouchpointWeb, engine.StatusWithdrawn))
	v := engine.DecideDelivery(q, shippedCap)
	c := q.Channels[0]
	r := engine.Fold(q.Records, engine.Scope{Purpose: engine.PurposeMarketing, Channel: c.Channel, Touchpoint: c.Touchpoint},
		q.Subject, q.Notice, q.Now)
	if !v.Allow || v.RecordID != r.RecordID || v.RecordID != "r-push-app" {
		t.Errorf("DecideDelivery = %+v, Fold = %+v; want both to name r-push-app", v, r)
	}
}
