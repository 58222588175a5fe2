package engine

import (
	"encoding/json"
	"time"
)

// A Contact is one planned message to one user: the unit the delivery
// ledger counts. (Campaign, User, Occurrence) names it; heed delivers at
// most once per name, through retries, crashes and restarts.
type Contact struct {
	Campaign string `json:"campaign_id"`
	User     UserID `json:"user_id"`
	// Occurrence is the campaign firing the contact belongs to, as a label
	// in the user's local calendar: "2027-02-28" or "2027-02-28T10:00".
	Occurrence string    `json:"occurrence"`
	Run        string    `json:"run_id,omitempty"`
	Due        time.Time `json:"due"`        // not sent before
	WindowEnd  time.Time `json:"window_end"` // not sent after: suppressed window_passed
}

// DeliveryKey returns the ledger key of c: campaign, occurrence and user.
func (c Contact) DeliveryKey() string {
	return c.Campaign + "/" + c.Occurrence + "/" + string(c.User)
}

// ContactRules are what the send-time decision needs to know of a contact's
// campaign.
type ContactRules struct {
	Channels   []Channel   `json:"channels"`             // allowed, in the campaign's order
	Touchpoint Touchpoint  `json:"touchpoint,omitempty"` // empty: each channel's own (ChannelTouchpoint)
	OfferType  string      `json:"offer_type"`
	Cap        CampaignCap `json:"cap"`
	// TimeZone is the zone of users who have none (IANA name; empty: UTC).
	TimeZone string `json:"time_zone,omitempty"`
	// Offer names the campaign and its offer for the shopper's usage log
	// ("Birthday treat · 满300减50").
	Offer string `json:"offer,omitempty"`
	// Paused holds deliveries back (deferred by HoldFor, until the window
	// ends); Ended suppresses them, campaign_ended. Neither asks the policy:
	// the merchandiser, not the shopper, decided.
	Paused bool `json:"paused,omitempty"`
	Ended  bool `json:"ended,omitempty"`
}

// HoldFor is how long a delivery of a paused campaign waits before it is
// tried again.
const HoldFor = 5 * time.Minute

// A CampaignCap bounds how many messages of one campaign a user gets per
// period. Max 0: no cap beyond one per occurrence.
type CampaignCap struct {
	Max int    `json:"max_per_user,omitempty"`
	Per string `json:"per,omitempty"` // day, week, month, year or campaign, in the user's calendar
}

// Cap periods.
const (
	PerDay      = "day"
	PerWeek     = "week"
	PerMonth    = "month"
	PerYear     = "year"
	PerCampaign = "campaign"
)

// CapPeriods lists the periods a campaign cap can count in.
var CapPeriods = []string{PerDay, PerWeek, PerMonth, PerYear, PerCampaign}

// ChannelTouchpoint is the touchpoint a message on ch reaches the shopper
// at, for consent scoped by touchpoint: push and in-app messages arrive in
// the app; email and SMS at no touchpoint of ours.
func ChannelTouchpoint(ch Channel) Touchpoint {
	switch ch {
	case ChannelPush, ChannelInApp:
		return TouchpointApp
	}
	return ""
}

// A DeliveryStatus is where a delivery stands in the ledger.
type DeliveryStatus string

const (
	DeliveryScheduled  DeliveryStatus = "scheduled"
	DeliverySending    DeliveryStatus = "sending" // claimed; the channel's answer is not recorded yet
	DeliverySent       DeliveryStatus = "sent"
	DeliverySuppressed DeliveryStatus = "suppressed"
	DeliveryDeferred   DeliveryStatus = "deferred"
	DeliveryFailed     DeliveryStatus = "failed"
)

// Final reports whether nothing more will happen to a delivery in status s.
func (s DeliveryStatus) Final() bool {
	return s == DeliverySent || s == DeliverySuppressed || s == DeliveryFailed
}

// Delivery suppression and deferral reasons (API.md "Campaigns").
const (
	ReasonConsentWithdrawn = "consent_withdrawn"
	ReasonChannelDisabled  = "channel_disabled"
	ReasonOfferTypeOptOut  = "offer_type_opt_out"
	ReasonFrequencyCap     = "frequency_cap"
	ReasonQuietHours       = "quiet_hours"
	ReasonMinorDelivery    = "minor"
	ReasonErased           = "erased"
	ReasonWindowPassed     = "window_passed"
	ReasonCampaignPaused   = "campaign_paused"
	ReasonCampaignEnded    = "campaign_ended"
	// ReasonNoConsent and ReasonNeedsReconsent are shared with consent.
)

// A Delivery is one entry of the delivery ledger: what became of a Contact.
type Delivery struct {
	ID             string `json:"id"`
	IdempotencyKey string `json:"idempotency_key"` // passed to the channel; stable across retries
	Contact
	Status          DeliveryStatus `json:"status"`
	Offer           string         `json:"offer,omitempty"` // the campaign and offer, as ContactRules.Offer
	Channel         Channel        `json:"channel,omitempty"`
	Reason          string         `json:"reason,omitempty"`
	DecisionID      string         `json:"decision_id,omitempty"`
	ConsentRecordID string         `json:"consent_record_id,omitempty"` // the record that allowed a send
	DeferredUntil   time.Time      `json:"deferred_until,omitzero"`
	// LeaseUntil, while sending, is when the claim lapses: a worker that
	// has not recorded an outcome by then is taken to have crashed.
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	SentAt     time.Time `json:"sent_at,omitzero"`
	Attempts   int       `json:"attempts"` // channel attempts
	LastError  string    `json:"last_error,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Items are the recommended items the message carried, and whether
	// they were personalized.
	Items        []ItemID `json:"items,omitempty"`
	Personalized bool     `json:"personalized,omitempty"`
	// Conversions and Revenue count purchases attributed to the delivery.
	Conversions int       `json:"conversions,omitempty"`
	Orders      []string  `json:"orders,omitempty"` // the purchases (order or event ids) counted
	Revenue     float64   `json:"revenue,omitempty"`
	ConvertedAt time.Time `json:"converted_at,omitzero"`
}

// NextDue is when a delivery that is not final is next due: the end of a
// deferral or the time of the next retry, the end of its claim's lease
// while it is being sent, or its due time. Zero for a final delivery.
func (d Delivery) NextDue() time.Time {
	switch {
	case d.Status.Final():
		return time.Time{}
	case !d.DeferredUntil.IsZero():
		return d.DeferredUntil
	case d.Status == DeliverySending:
		return d.LeaseUntil
	}
	return d.Due
}

// A SentMessage is one past send, as frequency caps count them.
type SentMessage struct {
	At       time.Time `json:"at"`
	Channel  Channel   `json:"channel"`
	Campaign string    `json:"campaign_id"`
	Delivery string    `json:"delivery_id"`
}

// A DeliveryQuestion asks whether a campaign message may go to a user at
// Now, and through which channel. Go computes every fact that needs the
// user's time zone (the local clock, sends counted in the local calendar,
// when windows end), so the policy does no calendar arithmetic.
type DeliveryQuestion struct {
	Now    time.Time `json:"now"`
	Erased bool      `json:"erased"` // the user no longer exists
	// The user's facts and marketing consent records, in ledger order.
	Subject Subject         `json:"subject"`
	Notice  NoticeRule      `json:"notice"`
	Records []ConsentRecord `json:"records"`
	// Channels are the campaign's channels in the user's channel order,
	// each with the user's preference and sends counted for it.
	Channels []ChannelFacts `json:"channels"`
	// OfferType is the campaign's; OfferTypes those the user accepts.
	OfferType  string   `json:"offer_type"`
	OfferTypes []string `json:"offer_types"`
	// Quiet is whether Now falls in the user's quiet hours, and QuietEnds
	// when they end.
	Quiet     bool      `json:"quiet"`
	QuietEnds time.Time `json:"quiet_ends,omitzero"`
	// Sends on every channel today and this week (local calendar, ISO
	// weeks), for the global marketing cap, and when those counts reset.
	SentToday    int       `json:"sent_today"`
	SentThisWeek int       `json:"sent_this_week"`
	DayEnds      time.Time `json:"day_ends"`
	WeekEnds     time.Time `json:"week_ends"`
	// The campaign's cap: sends of this campaign in its current period,
	// and when the period ends (zero for per-campaign caps: never).
	CampaignCap     int       `json:"campaign_cap"` // 0: none
	CampaignSent    int       `json:"campaign_sent"`
	CampaignCapEnds time.Time `json:"campaign_cap_ends,omitzero"`
	// WindowEnd is when the occurrence's window closes: a delivery that
	// cannot go out before then is suppressed, window_passed.
	WindowEnd time.Time `json:"window_end"`
}

// ChannelFacts are one channel's part of a DeliveryQuestion.
type ChannelFacts struct {
	Channel    Channel    `json:"channel"`
	Touchpoint Touchpoint `json:"touchpoint,omitempty"` // the consent question's
	Enabled    bool       `json:"enabled"`              // in the user's preferences
	MaxPerDay  int        `json:"max_per_day"`          // 0: no cap
	MaxPerWeek int        `json:"max_per_week"`
	SentToday  int        `json:"sent_today"`
	SentWeek   int        `json:"sent_this_week"`
}

// A MarketingCap bounds messages per user across every campaign and
// channel; the delivery policy holds it (data.heed.delivery.marketing_cap).
// 0: no cap.
type MarketingCap struct {
	PerDay  int `json:"per_day"`
	PerWeek int `json:"per_week"`
}

// A DeliveryVerdict is the send-time decision.
type DeliveryVerdict struct {
	Allow    bool    `json:"allow"`
	Channel  Channel `json:"channel,omitempty"`   // with Allow: the channel to use
	RecordID string  `json:"record_id,omitempty"` // with Allow: the consent record that allows it
	// Reason says why not (one of the delivery reasons, ReasonNoConsent or
	// ReasonNeedsReconsent); with DeferUntil set the delivery is deferred
	// until then, not dropped.
	Reason     string    `json:"reason,omitempty"`
	DeferUntil time.Time `json:"defer_until,omitzero"`
}

// DecideDelivery is the hand-written reference for the delivery policy
// (data.heed.delivery.decision): the planner uses it to foresee send-time
// decisions cheaply, and Go tests check that the two agree on generated
// questions. In order:
//
//  1. an erased user: suppressed, erased;
//  2. Now at or after WindowEnd: suppressed, window_passed;
//  3. an offer type the user opted out of: suppressed, offer_type_opt_out;
//  4. a minor without guardian consent: suppressed, minor;
//  5. the first channel, in order, with marketing consent (Fold at its
//     touchpoint), enabled, and within its own caps and the marketing cap
//     is chosen; then quiet hours defer to QuietEnds and a reached campaign
//     cap defers to CampaignCapEnds (suppressed frequency_cap when the cap
//     never resets);
//  6. with no channel chosen: if some channel failed only on caps, the
//     delivery is deferred to the earliest time one of them resets;
//     otherwise it is suppressed with the first channel's reason (denied
//     counts as no_consent, withdrawn as consent_withdrawn,
//     minor_without_guardian as minor).
//
// A deferral to WindowEnd or later is suppressed window_passed instead.
// With no channels at all the reason is no_consent.
func DecideDelivery(q DeliveryQuestion, mcap MarketingCap) DeliveryVerdict {
	suppress := func(reason string) DeliveryVerdict { return DeliveryVerdict{Reason: reason} }
	deferTo := func(reason string, t time.Time) DeliveryVerdict {
		if t.IsZero() || !t.Before(q.WindowEnd) {
			if t.IsZero() {
				return suppress(reason)
			}
			return suppress(ReasonWindowPassed)
		}
		return DeliveryVerdict{Reason: reason, DeferUntil: t}
	}
	switch {
	case q.Erased:
		return suppress(ReasonErased)
	case !q.Now.Before(q.WindowEnd):
		return suppress(ReasonWindowPassed)
	case !valid(q.OfferType, q.OfferTypes):
		return suppress(ReasonOfferTypeOptOut)
	case q.Subject.Minor && !q.Subject.GuardianConsent:
		return suppress(ReasonMinorDelivery)
	}
	// Sends on every channel count against the marketing cap; its resets
	// apply to every channel.
	var globalReset time.Time
	if mcap.PerWeek > 0 && q.SentThisWeek >= mcap.PerWeek {
		globalReset = q.WeekEnds
	} else if mcap.PerDay > 0 && q.SentToday >= mcap.PerDay {
		globalReset = q.DayEnds
	}
	first := ReasonNoConsent
	var capReset time.Time // earliest reset among channels blocked only by caps
	for i, ch := range q.Channels {
		res := Fold(q.Records, Scope{Purpose: PurposeMarketing, Channel: ch.Channel, Touchpoint: ch.Touchpoint}, q.Subject, q.Notice, q.Now)
		reason, reset := "", time.Time{}
		switch {
		case !res.Allowed:
			reason = deliveryReason(res.Reason)
		case !ch.Enabled:
			reason = ReasonChannelDisabled
		case ch.MaxPerWeek > 0 && ch.SentWeek >= ch.MaxPerWeek:
			reason, reset = ReasonFrequencyCap, latest(q.WeekEnds, globalReset)
		case ch.MaxPerDay > 0 && ch.SentToday >= ch.MaxPerDay:
			reason, reset = ReasonFrequencyCap, latest(q.DayEnds, globalReset)
		case !globalReset.IsZero():
			reason, reset = ReasonFrequencyCap, globalReset
		}
		if i == 0 && reason != "" {
			first = reason
		}
		if reason == ReasonFrequencyCap {
			if capReset.IsZero() || reset.Before(capReset) {
				capReset = reset
			}
			continue
		}
		if reason != "" {
			continue
		}
		switch {
		case q.Quiet:
			return deferTo(ReasonQuietHours, q.QuietEnds)
		case q.CampaignCap > 0 && q.CampaignSent >= q.CampaignCap:
			return deferTo(ReasonFrequencyCap, q.CampaignCapEnds)
		}
		return DeliveryVerdict{Allow: true, Channel: ch.Channel, RecordID: res.RecordID}
	}
	if !capReset.IsZero() {
		return deferTo(ReasonFrequencyCap, capReset)
	}
	return suppress(first)
}

// deliveryReason maps a consent reason to the delivery reason it causes.
func deliveryReason(consent string) string {
	switch consent {
	case ReasonWithdrawn:
		return ReasonConsentWithdrawn
	case ReasonNeedsReconsent:
		return ReasonNeedsReconsent
	case ReasonMinor:
		return ReasonMinorDelivery
	}
	return ReasonNoConsent // no_consent, denied, unknown_status
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// An Outgoing is a claimed delivery with its message, ready for its
// channel. With Send false there is nothing to send now: Delivery says why
// (final, deferred until Delivery.DeferredUntil, or claimed elsewhere).
type Outgoing struct {
	Delivery Delivery
	Send     bool
	// To is the channel address (an email address for email). Personal
	// data: never logged.
	To             string
	Offer          json.RawMessage
	Title, Body    string
	UnsubscribeURL string
	Items          []ItemID
	Personalized   bool
}

// A PlanJob is one occurrence of a campaign to plan: its run, the label of
// the occurrence, and, for a run started by hand, that it is due now.
type PlanJob struct {
	Campaign string    `json:"campaign_id"`
	Run      string    `json:"run_id"`
	Label    string    `json:"label,omitempty"` // empty: each user's local date at planning time
	Now      time.Time `json:"now,omitzero"`    // set: due at this instant, not the local send time
}

// A PlanResult counts what planning a chunk of users found.
type PlanResult struct {
	Audience   int            `json:"audience"`
	Scheduled  int            `json:"scheduled"`
	Suppressed map[string]int `json:"suppressed,omitempty"`
	Contacts   []Contact      `json:"-"`
}
