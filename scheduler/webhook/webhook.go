// Package webhook delivers campaign messages to a merchant's endpoint: one
// signed JSON POST per message, in the format API.md gives under
// "Campaigns". It makes one attempt per Send; the caller schedules retries.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"heed/changes"
	"heed/engine"
	"heed/scheduler"
)

// Options configure a Sender. URL and Secret must be set.
type Options struct {
	URL    string // the endpoint every message is POSTed to
	Secret []byte // signs every request (Heed-Signature)
	// Client sends the requests; nil: a client with a 10 s timeout that
	// does not follow redirects. A client without a timeout gets 10 s per
	// request all the same.
	Client *http.Client
	Now    func() time.Time // nil: time.Now
}

const (
	defaultTimeout = 10 * time.Second
	// maxRetryAfter caps a receiver's Retry-After, so that a bogus value
	// cannot park a delivery for days.
	maxRetryAfter = time.Hour
)

// maxIdleConns bounds the connections a Sender keeps open to its endpoint.
const maxIdleConns = 512

// A Sender POSTs messages to one webhook endpoint. It is safe for
// concurrent use.
type Sender struct {
	opts Options
}

var _ scheduler.Sender = (*Sender)(nil)

// New returns a Sender for o.
func New(o Options) *Sender {
	if o.Client == nil {
		// Workers send hundreds of messages at once to one endpoint: keep
		// that many connections open (Go keeps 2 per host by default, and
		// dialing anew cost a twelfth of the CPU at 3,000 messages/s).
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = maxIdleConns, maxIdleConns
		o.Client = &http.Client{
			Timeout:       defaultTimeout,
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sender{opts: o}
}

// payload is the JSON body of a delivery, its fields in API.md's order.
type payload struct {
	DeliveryID     string          `json:"delivery_id"`
	IdempotencyKey string          `json:"idempotency_key"`
	CampaignID     string          `json:"campaign_id"`
	UserID         engine.UserID   `json:"user_id"`
	Channel        engine.Channel  `json:"channel"`
	Offer          json.RawMessage `json:"offer"` // null when the campaign has none
	Message        content         `json:"message"`
	UnsubscribeURL string          `json:"unsubscribe_url"`
	SentAt         time.Time       `json:"sent_at"`
}

type content struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// Send POSTs m as JSON, signed with the Heed-Signature header, and with its
// IdempotencyKey in the Idempotency-Key header, so that the receiver can
// drop a message it has already had. sent_at is m.SentAt, or now if that is
// zero; the signature carries the time of this attempt, so that a retry
// still passes a receiver's replay window.
//
// Send returns nil on a 2xx answer; a *scheduler.RetryError on a 429 or a
// 5xx (with the Retry-After the receiver gave, at most an hour), on a
// network error or timeout, and when ctx ends first (wrapping ctx.Err());
// and a permanent error on any other answer or a message it cannot send.
// Errors name status codes only, never the message or the URL.
func (s *Sender) Send(ctx context.Context, m scheduler.Message) error {
	if s.opts.URL == "" {
		return errors.New("webhook: no URL")
	}
	if len(s.opts.Secret) == 0 {
		return errors.New("webhook: no signing secret")
	}
	if m.IdempotencyKey == "" {
		return errors.New("webhook: message has no idempotency key")
	}
	if strings.ContainsFunc(m.IdempotencyKey, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return errors.New("webhook: idempotency key has control characters")
	}
	if m.UnsubscribeURL == "" {
		return errors.New("webhook: message has no unsubscribe URL")
	}
	now := s.opts.Now()
	sentAt := m.SentAt
	if sentAt.IsZero() {
		sentAt = now
	}
	body, err := json.Marshal(payload{
		DeliveryID:     m.DeliveryID,
		IdempotencyKey: m.IdempotencyKey,
		CampaignID:     m.CampaignID,
		UserID:         m.User,
		Channel:        m.Channel,
		Offer:          m.Offer,
		Message:        content{Title: m.Title, Body: m.Body},
		UnsubscribeURL: m.UnsubscribeURL,
		SentAt:         sentAt.UTC(),
	})
	if err != nil {
		// Only an Offer that is not valid JSON gets here; the error's text
		// would quote it.
		return errors.New("webhook: encode message: invalid offer JSON")
	}

	timeout := s.opts.Client.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	reqCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, s.opts.URL, bytes.NewReader(body))
	if err != nil {
		return errors.New("webhook: bad URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "heed-webhook/1")
	req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	req.Header.Set(changes.SignatureHeader, changes.Sign(s.opts.Secret, now, body))

	resp, err := s.opts.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return &scheduler.RetryError{Err: fmt.Errorf("webhook: %w", ctx.Err())}
		}
		return &scheduler.RetryError{Err: fmt.Errorf("webhook: %w", withoutURL(err))}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()

	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests || code >= 500:
		return &scheduler.RetryError{
			After: retryAfter(resp.Header.Get("Retry-After"), s.opts.Now()),
			Err:   &StatusError{Code: code},
		}
	default:
		return &StatusError{Code: code}
	}
}

// A StatusError reports a non-2xx answer from the webhook endpoint.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("webhook: HTTP %d %s", e.Code, http.StatusText(e.Code))
}

// retryAfter parses a Retry-After header, seconds or an HTTP date, as a
// wait from now, at most maxRetryAfter; zero if absent or unparsable.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// withoutURL strips the *url.Error that net/http wraps around a failed
// request's error, whose text quotes the URL, which may carry credentials
// or tokens.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
