package engine

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// DefaultSendLease is how long a claimed delivery belongs to the worker
// that claimed it unless Options.SendLease says otherwise. A claim that
// lapses with no outcome recorded is taken to be a crashed worker's: the
// delivery is decided and sent again, under the same idempotency key.
const DefaultSendLease = 2 * time.Minute

func (s *Service) sendLease() time.Duration {
	if s.opts.SendLease > 0 {
		return s.opts.SendLease
	}
	return DefaultSendLease
}

// An Attempt is what AttemptDelivery made of a contact. With Send, the
// caller owns the send: it sends Delivery through Delivery.Channel with
// Delivery.IdempotencyKey and reports with FinishDelivery. Otherwise
// Delivery says why not: final, deferred until Delivery.DeferredUntil, or
// claimed by another worker.
type Attempt struct {
	Delivery Delivery
	Send     bool
}

// ScheduleContacts records contacts in the delivery ledger as scheduled
// (those already in it stay as they are) and returns how many it recorded.
func (s *Service) ScheduleContacts(ctx context.Context, cs []Contact) (int, error) {
	now := s.now()
	ds := make([]Delivery, len(cs))
	for i, c := range cs {
		ds[i] = newDelivery(c, now)
	}
	return s.store.ScheduleDeliveries(ctx, ds)
}

func newDelivery(c Contact, now time.Time) Delivery {
	id := NewID("dlv_")
	return Delivery{ID: id, IdempotencyKey: "heed-" + id, Contact: c, Status: DeliveryScheduled, UpdatedAt: now}
}

// AttemptDelivery makes the send-time decision about c under its
// campaign's rules r: one delivery policy decision, taken on the user's
// consent, preferences and recent sends as they are now, atomically with
// recording its outcome (so two workers cannot both use the last unit of a
// cap, and a withdrawal acknowledged before the decision is seen by it).
// A contact already final is returned as it is; one due later than now is
// returned deferred to its due time without a decision. A delivery claimed
// by a worker that never reported is decided again on its claimed channel
// and, if still allowed, sent again under the same idempotency key.
func (s *Service) AttemptDelivery(ctx context.Context, c Contact, r ContactRules) (Attempt, error) {
	rules, err := s.noticeRules(ctx)
	if err != nil {
		return Attempt{}, err
	}
	var send bool
	d, err := s.store.UpdateDelivery(ctx, c, func(f DeliveryFacts) (Delivery, Effects, bool, error) {
		now := s.now()
		send = false
		switch {
		case !f.Found:
			return Delivery{Contact: c, Status: DeliverySuppressed, Reason: ReasonErased, UpdatedAt: now}, Effects{}, false, nil
		case f.Exists && f.Delivery.Status.Final():
			return f.Delivery, Effects{}, false, nil
		case f.Exists && f.Delivery.Status == DeliverySending && f.Delivery.DeferredUntil.IsZero() &&
			now.Before(f.Delivery.LeaseUntil):
			return f.Delivery, Effects{}, false, nil // another worker is sending it
		}
		d := f.Delivery
		if !f.Exists {
			d = newDelivery(c, now)
		}
		d.Offer = r.Offer
		notBefore := c.Due
		if d.DeferredUntil.After(notBefore) { // deferred, or a retry not yet due
			notBefore = d.DeferredUntil
		}
		if now.Before(notBefore) { // early: asynq may run a task up to a second early
			d.DeferredUntil = notBefore
			return d, Effects{}, false, nil
		}
		switch {
		case r.Paused && now.Add(HoldFor).Before(c.WindowEnd):
			d.Status, d.Reason, d.DeferredUntil, d.UpdatedAt, d.LeaseUntil = DeliveryDeferred, ReasonCampaignPaused, now.Add(HoldFor), now, time.Time{}
			return d, Effects{}, true, nil
		case r.Ended || r.Paused:
			reason := ReasonCampaignEnded
			if !r.Ended {
				reason = ReasonWindowPassed
			}
			d.Status, d.Reason, d.DeferredUntil, d.UpdatedAt, d.LeaseUntil = DeliverySuppressed, reason, time.Time{}, now, time.Time{}
			e := s.activity(ctx, c.User, ActionMessageSuppress, "")
			e.Purpose, e.Reason = PurposeMarketing, reason
			e.Detail = fmt.Sprintf("campaign %s, occurrence %s: not sent (%s)", c.Campaign, c.Occurrence, reason) + offerNote(d)
			return d, Effects{Activity: []ActivityEntry{e}}, true, nil
		}
		q, loc := s.deliveryQuestion(f, c, r, rules[PurposeMarketing], now)
		resend := d.Status == DeliverySending
		if resend { // decided before: only its channel, and its own send is not counted again
			q.Channels = slices.DeleteFunc(q.Channels, func(cf ChannelFacts) bool { return cf.Channel != d.Channel })
			countSends(&q, f, d.ID, r, loc, now)
		}
		v, err := s.gate.Delivery(ctx, q)
		if err != nil {
			return Delivery{}, Effects{}, false, fmt.Errorf("delivery policy: %w", err)
		}
		dec := s.decide("heed/delivery", c.User, deliveryInput(c, q), Verdict{Allow: v.Allow, Reasons: reasons(v.Reason), RecordID: v.RecordID})
		d.DecisionID, d.UpdatedAt = dec.ID, now
		var fx Effects
		switch {
		case v.Allow:
			send = true
			d.Status, d.Channel, d.ConsentRecordID, d.Reason, d.DeferredUntil = DeliverySending, v.Channel, v.RecordID, "", time.Time{}
			d.LeaseUntil = now.Add(s.sendLease())
		case !v.DeferUntil.IsZero():
			d.Status, d.Reason, d.DeferredUntil, d.LeaseUntil = DeliveryDeferred, v.Reason, v.DeferUntil, time.Time{}
		default:
			d.Status, d.Reason, d.DeferredUntil, d.LeaseUntil = DeliverySuppressed, v.Reason, time.Time{}, time.Time{}
			e := s.activity(ctx, c.User, ActionMessageSuppress, dec.ID)
			e.Purpose, e.Reason = PurposeMarketing, v.Reason
			if len(q.Channels) > 0 {
				e.Channel = q.Channels[0].Channel
			}
			e.Detail = fmt.Sprintf("campaign %s, occurrence %s: not sent (%s)", c.Campaign, c.Occurrence, v.Reason)
			if resend {
				e.Detail += "; an earlier attempt's outcome is unknown"
			}
			e.Detail += offerNote(d)
			fx.Activity = append(fx.Activity, e)
		}
		return d, fx, true, nil
	})
	if err != nil {
		return Attempt{}, err
	}
	return Attempt{Delivery: d, Send: send}, nil
}

func reasons(r string) []string {
	if r == "" {
		return nil
	}
	return []string{r}
}

// deliveryQuestion builds the send-time question about c from facts f at
// now, and returns the user's location.
func (s *Service) deliveryQuestion(f DeliveryFacts, c Contact, r ContactRules, notice NoticeRule, now time.Time) (DeliveryQuestion, *time.Location) {
	loc := UserLocation(f.User.TimeZone, r.TimeZone)
	q := DeliveryQuestion{Now: now, Subject: f.User.Subject(), Notice: notice, Records: f.Records,
		OfferType: r.OfferType, OfferTypes: f.Prefs.OfferTypes, WindowEnd: c.WindowEnd}
	for _, ch := range orderChannels(r.Channels, f.Prefs.ChannelOrder) {
		p, ok := f.Prefs.Channels[ch]
		if !ok {
			p = ChannelPref{Enabled: true}
		}
		tp := r.Touchpoint
		if tp == "" {
			tp = ChannelTouchpoint(ch)
		}
		q.Channels = append(q.Channels, ChannelFacts{Channel: ch, Touchpoint: tp, Enabled: p.Enabled,
			MaxPerDay: p.MaxPerDay, MaxPerWeek: p.MaxPerWeek})
	}
	q.Quiet, q.QuietEnds = QuietAt(f.Prefs.QuietHours, now, loc)
	countSends(&q, f, "", r, loc, now)
	return q, loc
}

// countSends fills q's counts of recent sends, leaving out the send of
// delivery skip.
func countSends(q *DeliveryQuestion, f DeliveryFacts, skip string, r ContactRules, loc *time.Location, now time.Time) {
	dayStart, dayEnd := periodBounds(PerDay, now, loc)
	weekStart, weekEnd := periodBounds(PerWeek, now, loc)
	q.DayEnds, q.WeekEnds = dayEnd, weekEnd
	q.SentToday, q.SentThisWeek = 0, 0
	for i := range q.Channels {
		q.Channels[i].SentToday, q.Channels[i].SentWeek = 0, 0
	}
	for _, m := range f.Recent {
		if m.Delivery == skip && skip != "" || m.At.Before(weekStart) {
			continue
		}
		today := !m.At.Before(dayStart)
		q.SentThisWeek++
		if today {
			q.SentToday++
		}
		for i := range q.Channels {
			if q.Channels[i].Channel == m.Channel {
				q.Channels[i].SentWeek++
				if today {
					q.Channels[i].SentToday++
				}
			}
		}
	}
	q.CampaignCap, q.CampaignSent, q.CampaignCapEnds = r.Cap.Max, 0, time.Time{}
	if r.Cap.Max > 0 {
		start, end := periodBounds(r.Cap.Per, now, loc)
		q.CampaignCapEnds = end
		for _, at := range f.CampaignSends {
			if !at.Before(start) {
				q.CampaignSent++
			}
		}
		if skip != "" && q.CampaignSent > 0 { // the resent delivery's own send
			q.CampaignSent--
		}
	}
}

// orderChannels returns the campaign's channels in the user's order: those
// the user ordered first, in that order, then the rest in campaign order.
func orderChannels(campaign, user []Channel) []Channel {
	out := make([]Channel, 0, len(campaign))
	for _, ch := range user {
		if slices.Contains(campaign, ch) {
			out = append(out, ch)
		}
	}
	for _, ch := range campaign {
		if !slices.Contains(out, ch) {
			out = append(out, ch)
		}
	}
	return out
}

// UserLocation returns the zone named user, else the one named fallback,
// else UTC; a name that is not an IANA zone is passed over.
func UserLocation(user, fallback string) *time.Location {
	for _, name := range []string{user, fallback} {
		if name == "" {
			continue
		}
		if loc, err := LoadLocation(name); err == nil {
			return loc
		}
	}
	return time.UTC
}

// deliveryInput is what the decision log keeps of a delivery question: the
// facts, with the consent records by id (the ledger is append-only).
func deliveryInput(c Contact, q DeliveryQuestion) map[string]any {
	ids := make([]string, len(q.Records))
	for i, r := range q.Records {
		ids[i] = r.ID
	}
	return map[string]any{"campaign_id": c.Campaign, "occurrence": c.Occurrence, "now": q.Now,
		"channels": q.Channels, "offer_type": q.OfferType, "offer_types": q.OfferTypes,
		"quiet": q.Quiet, "sent_today": q.SentToday, "sent_this_week": q.SentThisWeek,
		"campaign_cap": q.CampaignCap, "campaign_sent": q.CampaignSent, "window_end": q.WindowEnd,
		"subject": q.Subject, "notice": q.Notice, "record_ids": ids}
}

// A SendResult is what a channel made of a claimed delivery.
type SendResult struct {
	Err error
	// RetryAt, with Err, is when to try again; zero: the error is final.
	RetryAt time.Time
	// Items are the recommended items the message carried.
	Items        []ItemID
	Personalized bool
}

// FinishDelivery records the outcome of sending the delivery with key,
// claimed by AttemptDelivery: sent, failed for good, or to be tried again
// at res.RetryAt. A sent or failed delivery joins the user's usage log, a
// sent one citing the consent record that allowed it. A delivery no longer
// claimed (finished by another worker, or erased) is returned unchanged.
func (s *Service) FinishDelivery(ctx context.Context, key string, res SendResult) (Delivery, error) {
	return s.store.UpdateDeliveryEntry(ctx, key, func(d Delivery) (Delivery, Effects, error) {
		if d.Status != DeliverySending {
			return d, Effects{}, nil
		}
		now := s.now()
		d.Attempts++
		d.UpdatedAt = now
		var fx Effects
		switch {
		case res.Err == nil:
			d.Status, d.SentAt, d.DeferredUntil, d.LastError, d.LeaseUntil = DeliverySent, now, time.Time{}, "", time.Time{}
			d.Items, d.Personalized = res.Items, res.Personalized
			e := s.activity(ctx, d.User, ActionMessageSent, d.DecisionID)
			e.Purpose, e.Channel = PurposeMarketing, d.Channel
			e.Detail = fmt.Sprintf("campaign %s, occurrence %s: sent by %s, allowed by consent record %s", d.Campaign, d.Occurrence, d.Channel, d.ConsentRecordID)
			if len(res.Items) > 0 {
				if res.Personalized {
					e.Detail += "; with personalized items"
				} else {
					e.Detail += "; with non-personalized items"
				}
			}
			e.Detail += offerNote(d)
			fx.Activity = append(fx.Activity, e)
		case !res.RetryAt.IsZero():
			d.DeferredUntil, d.LastError = res.RetryAt, res.Err.Error()
		default:
			d.Status, d.DeferredUntil, d.LastError, d.LeaseUntil = DeliveryFailed, time.Time{}, res.Err.Error(), time.Time{}
			e := s.activity(ctx, d.User, ActionMessageFailed, d.DecisionID)
			e.Purpose, e.Channel, e.Reason = PurposeMarketing, d.Channel, "failed"
			e.Detail = fmt.Sprintf("campaign %s, occurrence %s: %s did not accept the message", d.Campaign, d.Occurrence, d.Channel) + offerNote(d)
			fx.Activity = append(fx.Activity, e)
		}
		return d, fx, nil
	})
}

// PlanDeliveries foresees, for the planner, the send-time decision about
// each contact cs[i] at its due time (or now, if later), from the facts
// fs[i] read while scanning the audience. While the shipped policies are
// in force it uses DecideDelivery, their hand-written reference, with the
// policy's marketing cap: a Rego evaluation per user would cost a million
// users over a minute of CPU. Once they have been replaced it asks the
// policy in force, which the reference may not foresee: a more permissive
// policy would otherwise lose the users only it allows. The send-time
// decision, always the policy's, has the last word. The campaign's own cap
// is not foreseen.
func (s *Service) PlanDeliveries(ctx context.Context, cs []Contact, fs []UserFacts, r ContactRules, mcap MarketingCap) ([]DeliveryVerdict, error) {
	rules, err := s.noticeRules(ctx)
	if err != nil {
		return nil, err
	}
	shipped := s.gate.ShippedDelivery()
	now := s.now()
	out := make([]DeliveryVerdict, len(cs))
	for i, c := range cs {
		at := c.Due
		if at.Before(now) {
			at = now
		}
		f := DeliveryFacts{Found: true, User: fs[i].User, Prefs: fs[i].Prefs, Records: fs[i].Records, Recent: fs[i].Recent}
		rc := r
		rc.Cap = CampaignCap{}
		q, _ := s.deliveryQuestion(f, c, rc, rules[PurposeMarketing], at)
		if shipped {
			out[i] = DecideDelivery(q, mcap)
			continue
		}
		if out[i], err = s.gate.Delivery(ctx, q); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// offerNote ends a message's usage-log detail with the campaign and offer
// it was about, so the shopper can tell which offer it was.
func offerNote(d Delivery) string {
	if d.Offer == "" {
		return ""
	}
	return "; offer: " + d.Offer
}
