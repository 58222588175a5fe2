package engine

import "slices"

// A Purpose is what a consent is for.
type Purpose string

const (
	PurposePersonalization   Purpose = "personalization"
	PurposeMarketing         Purpose = "marketing"
	PurposeAnalytics         Purpose = "analytics"
	PurposeThirdPartySharing Purpose = "third_party_sharing"
)

// Purposes lists every purpose heed knows, in display order.
var Purposes = []Purpose{PurposePersonalization, PurposeMarketing, PurposeAnalytics, PurposeThirdPartySharing}

// A Channel is a marketing channel; it scopes marketing consent.
type Channel string

const (
	ChannelPush  Channel = "push"
	ChannelEmail Channel = "email"
	ChannelSMS   Channel = "sms"
	ChannelInApp Channel = "inapp"
)

// Channels lists every channel, in default order.
var Channels = []Channel{ChannelPush, ChannelEmail, ChannelSMS, ChannelInApp}

// A Signal is a kind of behavioural data; it scopes personalization consent.
type Signal string

const (
	SignalPurchases Signal = "purchases"
	SignalBrowsing  Signal = "browsing"
	SignalFavorites Signal = "favorites"
	SignalSearch    Signal = "search"
	SignalRegion    Signal = "region"
	SignalOffline   Signal = "offline"
)

// Signals lists every signal.
var Signals = []Signal{SignalPurchases, SignalBrowsing, SignalFavorites, SignalSearch, SignalRegion, SignalOffline}

// A Touchpoint is where the shopper meets the retailer; it can scope any consent.
type Touchpoint string

const (
	TouchpointApp         Touchpoint = "app"
	TouchpointWeb         Touchpoint = "web"
	TouchpointMiniProgram Touchpoint = "mini_program"
	TouchpointStore       Touchpoint = "store"
	TouchpointCallCenter  Touchpoint = "call_center"
)

// Touchpoints lists every touchpoint.
var Touchpoints = []Touchpoint{TouchpointApp, TouchpointWeb, TouchpointMiniProgram, TouchpointStore, TouchpointCallCenter}

// A Status is what a consent record says.
type Status string

const (
	StatusGranted   Status = "granted"
	StatusDenied    Status = "denied"
	StatusWithdrawn Status = "withdrawn"
	// StatusNeedsReconsent is derived, never recorded: the deciding grant was
	// given under a notice version that no longer counts.
	StatusNeedsReconsent Status = "needs_reconsent"
	// StatusNone is derived: no record covers the question.
	StatusNone Status = "none"
)

// Statuses lists the statuses a record may carry.
var Statuses = []Status{StatusGranted, StatusDenied, StatusWithdrawn}

// Restrictiveness orders recorded statuses: on a tie the higher one wins.
func (s Status) Restrictiveness() int {
	switch s {
	case StatusGranted:
		return 0
	case StatusDenied:
		return 1
	default: // withdrawn
		return 2
	}
}

// An Actor kind says who recorded a consent.
const (
	ActorSelf     = "self"
	ActorGuardian = "guardian"
)

// A Role is what an API credential may do; the authz policy decides.
type Role string

const (
	RoleAdmin        Role = "admin"
	RoleStorefront   Role = "storefront"
	RoleMerchandiser Role = "merchandiser"
	RoleMarketing    Role = "marketing"
	RoleShopper      Role = "shopper"
	RoleSystem       Role = "system" // heed itself: scheduler, workers
)

// KeyRoles lists the roles an API key can hold.
var KeyRoles = []Role{RoleAdmin, RoleStorefront, RoleMerchandiser, RoleMarketing}

// An IdentityType is a kind of external identifier stitched to a user.
type IdentityType string

// IdentityTypes lists the identity types heed accepts.
var IdentityTypes = []IdentityType{"phone", "email", "device", "loyalty_card", "wechat_openid"}

// Tiers lists VIP tiers, lowest first.
var Tiers = []string{"none", "silver", "gold", "vip"}

// OfferTypes lists the offer types a shopper can opt in to or out of.
var OfferTypes = []string{"discount", "threshold", "points", "free_shipping"}

func valid[T comparable](v T, set []T) bool { return slices.Contains(set, v) }

// Valid reports whether p is a known purpose; likewise for the types below.
func (p Purpose) Valid() bool      { return valid(p, Purposes) }
func (c Channel) Valid() bool      { return valid(c, Channels) }
func (s Signal) Valid() bool       { return valid(s, Signals) }
func (t Touchpoint) Valid() bool   { return valid(t, Touchpoints) }
func (t IdentityType) Valid() bool { return valid(t, IdentityTypes) }
func (r Role) Valid() bool         { return valid(r, KeyRoles) }

// Recordable reports whether s may appear in a consent record.
func (s Status) Recordable() bool { return valid(s, Statuses) }
