package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"heed/engine"
)

// A Message is what a channel delivers for one delivery.
type Message struct {
	DeliveryID     string         `json:"delivery_id"`
	IdempotencyKey string         `json:"idempotency_key"` // the same on every retry of a delivery
	CampaignID     string         `json:"campaign_id"`
	User           engine.UserID  `json:"user_id"`
	Channel        engine.Channel `json:"channel"`
	// To is the address for channels that need one: the user's email
	// address for email. Personal data: never logged.
	To             string          `json:"-"`
	Offer          json.RawMessage `json:"offer,omitempty"`
	Title          string          `json:"title"`
	Body           string          `json:"body"`
	UnsubscribeURL string          `json:"unsubscribe_url"`
	SentAt         time.Time       `json:"sent_at"`
}

// A Sender delivers messages through one channel. It passes the message's
// IdempotencyKey to the provider, so that a message sent again after a
// crash is recognised as the same one.
//
// Send returns nil once the provider accepted the message, a *RetryError
// when a later attempt may succeed (a 5xx, a 429, a network error), and any
// other error when it never will.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// A RetryError reports a send that may succeed later. After, if positive,
// is how long the provider asked us to wait (Retry-After).
type RetryError struct {
	After time.Duration
	Err   error
}

func (e *RetryError) Error() string {
	if e.After > 0 {
		return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
	}
	return e.Err.Error()
}

func (e *RetryError) Unwrap() error { return e.Err }

// Retryable reports whether err is worth another attempt, and how long the
// provider asked to wait (0: not said).
func Retryable(err error) (bool, time.Duration) {
	var r *RetryError
	if errors.As(err, &r) {
		return true, r.After
	}
	return false, 0
}
