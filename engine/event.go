package engine

import (
	"fmt"
	"math"
	"time"
)

// An EventType is a kind of shopper behaviour.
type EventType string

const (
	EventPurchase   EventType = "purchase"
	EventView       EventType = "view"
	EventFavorite   EventType = "favorite"
	EventUnfavorite EventType = "unfavorite"
	EventCart       EventType = "cart"
	EventSearch     EventType = "search"
	EventStoreVisit EventType = "store_visit"
)

// EventTypes lists every event type.
var EventTypes = []EventType{EventPurchase, EventView, EventFavorite, EventUnfavorite, EventCart, EventSearch, EventStoreVisit}

func (t EventType) Valid() bool { return valid(t, EventTypes) }

// An Event is one thing a shopper did. Events are stored only if the collect
// policy allows it, and used for personalization only while the signal they
// feed (Signal) is allowed.
type Event struct {
	// ID is heed's id of a stored event; set by heed.
	ID   string    `json:"id,omitempty"`
	Type EventType `json:"type"`
	User UserID    `json:"user_id"`
	// Item is the item viewed, favorited, put in the cart...; purchases list
	// theirs in Items instead.
	Item  ItemID     `json:"item_id,omitempty"`
	Items []LineItem `json:"items,omitempty"`
	// Order names the order of a purchase (a basket: what is bought together).
	// Empty: the event's ID.
	Order string `json:"order_id,omitempty"`
	// OfferCode is the campaign offer code a purchase redeemed; it
	// attributes the purchase to the campaign's delivery.
	OfferCode  string     `json:"offer_code,omitempty"`
	Query      string     `json:"query,omitempty"` // search text
	Touchpoint Touchpoint `json:"touchpoint,omitempty"`
	Region     string     `json:"region,omitempty"`
	OccurredAt time.Time  `json:"occurred_at"`
}

// A LineItem is one line of a purchase.
type LineItem struct {
	Item     ItemID  `json:"item_id"`
	Quantity int     `json:"quantity"`
	Price    float64 `json:"price"` // unit price
}

// MaxPurchaseLines bounds the lines of one purchase (wholesale orders run
// to hundreds).
const MaxPurchaseLines = 1000

// MaxEventsPerBatch bounds one POST /v1/events.
const MaxEventsPerBatch = 1000

// Signal returns the personalization signal an event feeds: whatever happens
// in a physical store (touchpoint store, or a store visit) is offline; else
// purchases, browsing (views and carts), favorites or search.
func (e Event) Signal() Signal {
	if e.Type == EventStoreVisit || e.Touchpoint == TouchpointStore {
		return SignalOffline
	}
	switch e.Type {
	case EventPurchase:
		return SignalPurchases
	case EventFavorite, EventUnfavorite:
		return SignalFavorites
	case EventSearch:
		return SignalSearch
	default: // view, cart
		return SignalBrowsing
	}
}

// ItemIDs returns the items an event is about, in order.
func (e Event) ItemIDs() []ItemID {
	if e.Type == EventPurchase {
		ids := make([]ItemID, len(e.Items))
		for i, l := range e.Items {
			ids[i] = l.Item
		}
		return ids
	}
	if e.Item != "" {
		return []ItemID{e.Item}
	}
	return nil
}

// Validate checks an event on its own, as of now: known type, the fields
// the type needs, a time neither before 2000 nor more than a day ahead.
// Whether the user and items exist is for the caller to check.
func (e Event) Validate(now time.Time) error {
	var ps problems
	switch {
	case e.Type == "":
		ps.add("type", "is required")
	case !e.Type.Valid():
		ps.add("type", "unknown event type %q; want one of %v", e.Type, EventTypes)
	}
	if err := e.User.Validate(); err != nil {
		ps = append(ps, problemsOf(Prefixed(err, "user_"))...)
	}
	if e.Touchpoint != "" && !e.Touchpoint.Valid() {
		ps.add("touchpoint", "unknown touchpoint %q; want one of %v", e.Touchpoint, Touchpoints)
	}
	if msg := checkText(e.Region, 64); msg != "" {
		ps.add("region", "%s", msg)
	}
	if msg := checkText(e.Order, 128); msg != "" {
		ps.add("order_id", "%s", msg)
	}
	if msg := checkText(e.OfferCode, 64); msg != "" {
		ps.add("offer_code", "%s", msg)
	} else if e.OfferCode != "" && e.Type != EventPurchase {
		ps.add("offer_code", "only a purchase redeems an offer")
	}
	switch {
	case e.OccurredAt.IsZero():
		ps.add("occurred_at", "is required (RFC 3339, e.g. 2026-11-28T10:00:00+08:00)")
	case e.OccurredAt.Year() < 2000:
		ps.add("occurred_at", "is before 2000")
	case e.OccurredAt.After(now.Add(24 * time.Hour)):
		ps.add("occurred_at", "is more than a day in the future")
	}
	switch e.Type {
	case EventPurchase:
		if e.Item != "" {
			ps.add("item_id", "a purchase lists its items in items, not item_id")
		}
		if len(e.Items) == 0 {
			ps.add("items", "a purchase needs at least one line")
		}
		if len(e.Items) > MaxPurchaseLines {
			ps.add("items", "has more than %d lines", MaxPurchaseLines)
		}
		for i, l := range e.Items {
			f := fmt.Sprintf("items[%d].", i)
			if err := l.Item.Validate(); err != nil {
				ps = append(ps, problemsOf(Prefixed(err, f+"item_"))...)
			}
			if l.Quantity < 1 {
				ps.add(f+"quantity", "must be at least 1")
			}
			if l.Price < 0 || math.IsNaN(l.Price) || math.IsInf(l.Price, 0) {
				ps.add(f+"price", "must be a number at least 0")
			}
		}
	case EventSearch:
		if e.Query == "" {
			ps.add("query", "a search needs its query")
		} else if msg := checkText(e.Query, 256); msg != "" {
			ps.add("query", "%s", msg)
		}
	case EventStoreVisit:
		if e.Item != "" {
			if err := e.Item.Validate(); err != nil {
				ps = append(ps, problemsOf(Prefixed(err, "item_"))...)
			}
		}
	case EventView, EventFavorite, EventUnfavorite, EventCart:
		if err := e.Item.Validate(); err != nil {
			ps = append(ps, problemsOf(Prefixed(err, "item_"))...)
		}
	}
	if e.Type != EventPurchase && len(e.Items) > 0 {
		ps.add("items", "only a purchase has items")
	}
	if e.Type != EventSearch && e.Query != "" {
		ps.add("query", "only a search has a query")
	}
	return ps.err()
}

// An EventBatch is one durable write of decided events (Store.AppendEvents):
// everything in it is written in one transaction, or nothing is.
type EventBatch struct {
	// Events are the events to store, IDs set, in input order.
	Events []Event
	// Users holds the derived updates, at most one per user.
	Users []UserEvents
	// Effects are the usage-log entries (and outbox items) of the batch.
	Effects Effects
}

// UserEvents are the changes a batch of events makes to one user's derived
// data.
type UserEvents struct {
	User UserID
	// Orders is how many distinct orders the batch's purchases add to the
	// user's order count.
	Orders int
	// FirstPurchaseAt is the batch's earliest purchase, zero if none; the
	// user's first purchase becomes the earlier of it and the stored one.
	FirstPurchaseAt time.Time
	// Interests are weights to add to interest tags (see Interests.Add); a
	// tag the user deleted is skipped.
	Interests []InterestTag
	// Touchpoints are those the batch saw the user at (User.Touchpoints
	// keeps each once).
	Touchpoints []Touchpoint
}

// A DroppedEvent is an event the collect policy did not allow: it was not
// stored. Index is its position in the request (for imports, its line).
type DroppedEvent struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// An EventResult says what became of a batch of events.
type EventResult struct {
	Accepted int            `json:"accepted"`
	Dropped  []DroppedEvent `json:"dropped"`
}

// MaxImportDropped bounds the dropped events an import lists one by one;
// ImportResult.DroppedTotal counts all of them.
const MaxImportDropped = 1000

// An ImportResult says what became of an import (Service.ImportEvents).
type ImportResult struct {
	// Lines is how many lines were processed, a CSV header included: all of
	// them after a complete import; after an error, the last line of the
	// last batch stored (an import can resume after it).
	Lines int `json:"lines"`
	// Accepted is how many events were stored.
	Accepted int `json:"accepted"`
	// Dropped lists the first MaxImportDropped events the collect policy
	// did not allow, Index being the event's (first) line, numbered from 1;
	// DroppedTotal counts them all.
	Dropped      []DroppedEvent `json:"dropped"`
	DroppedTotal int            `json:"dropped_total"`
}

// Revenue is what a purchase's lines add up to.
func (e Event) Revenue() float64 {
	var r float64
	for _, l := range e.Items {
		r += float64(l.Quantity) * l.Price
	}
	return r
}
