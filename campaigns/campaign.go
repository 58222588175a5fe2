// Package campaigns defines campaigns: what merchandisers configure (offer,
// audience, channels, schedule, caps, message), how a campaign is validated,
// who its audience is on a given day, when its occurrences fall in each
// user's time zone, and how its message reads in the user's language. It
// knows nothing of storage, Redis or HTTP: what it needs it declares.
package campaigns

import (
	"time"

	"heed/engine"
)

// A Kind says whom a campaign is for.
type Kind string

const (
	KindFirstPurchase Kind = "first_purchase" // registered users with no purchase yet
	KindVIP           Kind = "vip"            // tier at or above Audience.MinTier
	KindBirthday      Kind = "birthday"       // birthday today, in the user's zone
	KindSegment       Kind = "segment"        // the audience filters alone
)

// Kinds lists every kind.
var Kinds = []Kind{KindFirstPurchase, KindVIP, KindBirthday, KindSegment}

// A Status is where a campaign is in its life: draft → active ⇄ paused →
// ended.
type Status string

const (
	StatusDraft  Status = "draft"
	StatusActive Status = "active"
	StatusPaused Status = "paused"
	StatusEnded  Status = "ended"
)

// A Campaign is an offer sent to an audience on a schedule.
type Campaign struct {
	ID       string           `json:"id"`
	Name     string           `json:"name"`
	Kind     Kind             `json:"kind"`
	Status   Status           `json:"status"`
	Offer    Offer            `json:"offer"`
	Audience Audience         `json:"audience"`
	Channels []engine.Channel `json:"channels"` // allowed channels; the user's channel order picks among them
	// Touchpoint, if set, is the touchpoint every message of the campaign
	// reaches the shopper at, for consent scoped by touchpoint; empty:
	// engine.ChannelTouchpoint of the channel used.
	Touchpoint engine.Touchpoint `json:"touchpoint,omitempty"`
	Schedule   Schedule          `json:"schedule"`
	// LocalSendTime is the time of day (HH:MM, in each user's zone) its
	// messages are due; empty: the cron's time, or 10:00 for a date.
	LocalSendTime string `json:"local_send_time,omitempty"`
	// TimeZone is the zone of users who have none; empty: UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// WindowHours is how long after its due time a message may still go
	// out (deferred by quiet hours or caps, or caught up after downtime);
	// zero: 12.
	WindowHours int `json:"window_hours,omitempty"`
	// Cap bounds messages of this campaign per user; zero: one per
	// occurrence only.
	Cap engine.CampaignCap `json:"cap,omitzero"`
	// AttributionDays is how long after a delivery a purchase without the
	// offer code counts as its conversion; zero: 7.
	AttributionDays int     `json:"attribution_days,omitempty"`
	Message         Message `json:"message"`
	Version         int     `json:"version"`
	// ActivatedAt is when the campaign first became active: occurrences
	// due before it are never planned.
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Offer types.
const (
	OfferDiscount     = "discount"      // PercentOff
	OfferThreshold    = "threshold"     // 满减: spend Spend, save AmountOff
	OfferPoints       = "points"        // Points
	OfferFreeShipping = "free_shipping" // nothing else
)

// An Offer is what the message offers.
type Offer struct {
	Type       string  `json:"type"`
	PercentOff float64 `json:"percent_off,omitempty"`
	Spend      float64 `json:"spend,omitempty"`
	AmountOff  float64 `json:"amount_off,omitempty"`
	Points     int     `json:"points,omitempty"`
	// Code is the code a purchase carries to redeem the offer; it
	// attributes the purchase to the campaign.
	Code      string `json:"code,omitempty"`
	ValidDays int    `json:"valid_days,omitempty"` // from the delivery; zero: no end
}

// An Audience narrows a campaign's kind. Empty fields do not filter.
type Audience struct {
	Regions     []string            `json:"regions,omitempty"`
	MinTier     string              `json:"min_tier,omitempty"`   // engine.Tiers; required for vip
	Categories  []string            `json:"categories,omitempty"` // any of the user's categories of interest
	Touchpoints []engine.Touchpoint `json:"touchpoints,omitempty"`
}

// A Schedule says when a campaign fires: a cron expression (five fields,
// read on each user's local clock) or one date or instant.
type Schedule struct {
	Cron string `json:"cron,omitempty"`
	// SendAt is a local date (YYYY-MM-DD, at LocalSendTime in each user's
	// zone) or an instant (RFC 3339, the same moment for everyone).
	SendAt string `json:"send_at,omitempty"`
}

// A Message is the campaign's text, as Go text/template templates over
// MessageData; Locales override it for users of a language ("en",
// "zh-CN"; a user's locale matches its exact tag, then its language).
type Message struct {
	Title   string              `json:"title"`
	Body    string              `json:"body"`
	Locales map[string]Template `json:"locales,omitempty"`
}

// A Template is a message's text in one language.
type Template struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// MessageData is what a message template can use.
type MessageData struct {
	Name           string // the user's name; empty when unknown
	Campaign       string // the campaign's name
	Offer          string // the offer, in the user's language: "满300减50", "15% off"
	Code           string
	ValidUntil     string // YYYY-MM-DD, or empty
	Items          []MessageItem
	UnsubscribeURL string
}

// A MessageItem is one recommended item in a message.
type MessageItem struct {
	ID    string
	Title string
	Price string // formatted in the user's language
}

// Facts are what audiences are matched against: the user and what is
// derived from the user's preferences, interests and events.
type Facts struct {
	User engine.User
	// Categories are the user's categories of interest: preference
	// categories and the category interest tags not deleted.
	Categories []string
	// Touchpoints are those the user was seen at.
	Touchpoints []engine.Touchpoint
}
