package changes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"heed/engine"
)

// Outbox is the store of change deliveries; engine/badgerstore.DB
// satisfies it. Each method finds the item by its ID.
type Outbox interface {
	// DueOutbox returns up to limit items whose NextAt is not after now,
	// earliest first.
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]engine.OutboxItem, error)
	// CompleteOutbox removes a delivered item.
	CompleteOutbox(ctx context.Context, item engine.OutboxItem) error
	// RetryOutbox stores item's new Attempts, NextAt and LastErr.
	RetryOutbox(ctx context.Context, item engine.OutboxItem) error
	// DeadOutbox moves item, with its Attempts and LastErr, out of the due
	// set into the dead letters, kept for inspection and replay.
	DeadOutbox(ctx context.Context, item engine.OutboxItem) error
}

// Options configure a Dispatcher. Only Secret must be set.
type Options struct {
	Secret []byte // signs every delivery (HEED_WEBHOOK_SECRET)
	// Client sends the requests; nil: a client with a 10 s timeout that
	// does not follow redirects. A client without a timeout gets 10 s per
	// request all the same.
	Client      *http.Client
	BaseBackoff time.Duration // the first retry's delay; zero: 1 s
	MaxBackoff  time.Duration // the longest delay between attempts; zero: 10 min
	MaxAttempts int           // attempts before an item is dead-lettered; zero: 15
	Poll        time.Duration // how often the outbox is read without a Wake; zero: 1 s
	PerTarget   int           // deliveries in flight to one target; zero: 4
	Batch       int           // items read from the outbox at a time; zero: 256
	Now         func() time.Time
}

const (
	defaultTimeout = 10 * time.Second
	// clientErrorAttempts caps the attempts for 3xx and 4xx answers other
	// than 408, 425, 429 and 410.
	clientErrorAttempts = 5
	// maxRetryAfter caps a receiver's Retry-After, so that a bogus value
	// cannot park an item for days.
	maxRetryAfter = time.Hour
	// bookkeepingTimeout bounds the outbox write after a delivery, which
	// runs even while Run is stopping.
	bookkeepingTimeout = 5 * time.Second
	maxErrLen          = 200
)

// A Dispatcher delivers the outbox's due items to their targets. Items for
// one target are sent at most Options.PerTarget at a time, and targets do
// not wait for one another, so a slow or failing receiver delays only its
// own items.
type Dispatcher struct {
	out  Outbox
	opts Options
	log  *slog.Logger
	wake chan struct{}

	mu       sync.Mutex
	inflight map[string]bool // ids of the items being delivered; guarded by mu
	busy     map[string]int  // deliveries in flight per target; guarded by mu
	starved  bool            // the last poll left due items for lack of room; guarded by mu
}

// New returns a Dispatcher over out. Call Run to start it.
func New(out Outbox, opts Options, log *slog.Logger) *Dispatcher {
	if opts.Client == nil {
		opts.Client = &http.Client{
			Timeout:       defaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Minute
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 15
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.PerTarget <= 0 {
		opts.PerTarget = 4
	}
	if opts.Batch <= 0 {
		opts.Batch = 256
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{
		out: out, opts: opts, log: log,
		wake:     make(chan struct{}, 1),
		inflight: make(map[string]bool),
		busy:     make(map[string]int),
	}
}

// Wake makes Run read the outbox now rather than at its next poll; the API
// calls it after a write that queued changes. It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers due items until ctx is done, then cancels the deliveries in
// flight, waits for them and returns nil. An item whose delivery was cut
// short stays due and is sent again by the next Run. Run fails at once
// without a signing secret. Call it once; stop it before closing the
// outbox's store.
func (d *Dispatcher) Run(ctx context.Context) error {
	if len(d.opts.Secret) == 0 {
		return errors.New("changes: no signing secret")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-timer.C:
		}
		d.poll(ctx, &wg)
		timer.Reset(d.opts.Poll)
	}
}

// poll starts a delivery for each due item whose target has room. When the
// outbox holds more due items than one read returns, items that must wait
// for a busy target are moved back by one poll interval, so that a backlog
// for one target cannot hide the items of others behind it.
func (d *Dispatcher) poll(ctx context.Context, wg *sync.WaitGroup) {
	now := d.opts.Now()
	items, err := d.out.DueOutbox(ctx, now, d.opts.Batch)
	if err != nil {
		if ctx.Err() == nil {
			d.log.WarnContext(ctx, "change outbox: read due items", "error", err)
		}
		return
	}
	full := len(items) >= d.opts.Batch
	var start, later []engine.OutboxItem
	d.mu.Lock()
	d.starved = false
	for _, it := range items {
		switch {
		case d.inflight[it.ID]:
		case d.busy[it.Target] >= d.opts.PerTarget:
			d.starved = true
			if full {
				later = append(later, it)
			}
		default:
			d.inflight[it.ID] = true
			d.busy[it.Target]++
			start = append(start, it)
		}
	}
	d.mu.Unlock()

	for _, it := range start {
		wg.Go(func() {
			d.deliver(ctx, it)
			d.finished(it)
		})
	}
	for _, it := range later {
		it.NextAt = now.Add(d.opts.Poll)
		if err := d.out.RetryOutbox(ctx, it); err != nil && ctx.Err() == nil {
			d.log.WarnContext(ctx, "change outbox: postpone item", "change_id", it.Change.ID, "error", err)
		}
	}
}

func (d *Dispatcher) finished(it engine.OutboxItem) {
	d.mu.Lock()
	delete(d.inflight, it.ID)
	if d.busy[it.Target]--; d.busy[it.Target] <= 0 {
		delete(d.busy, it.Target)
	}
	starved := d.starved
	d.mu.Unlock()
	if starved {
		d.Wake() // items were waiting for this room
	}
}

// deliver sends one item and records the outcome in the outbox.
func (d *Dispatcher) deliver(ctx context.Context, it engine.OutboxItem) {
	log := d.log.With("change_id", it.Change.ID, "delivery_id", it.ID, "event", it.Change.Event,
		"target", targetHost(it.Target), "attempt", it.Attempts+1)
	body := []byte(it.Change.Body)
	if !json.Valid(body) {
		d.dead(ctx, log, it, "the change's body is not JSON")
		return
	}
	timeout := d.opts.Client.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	reqCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, it.Target, bytes.NewReader(body))
	if err != nil {
		d.dead(ctx, log, it, "bad target URL")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "heed-changes/1")
	req.Header.Set("Heed-Event", it.Change.Event)
	req.Header.Set("Heed-Delivery", it.ID)
	req.Header.Set(SignatureHeader, Sign(d.opts.Secret, d.opts.Now(), body))

	resp, err := d.opts.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return // stopping: the item stays due and goes out on the next start
		}
		d.retry(ctx, log, it, 0, describe(err), 0, d.opts.MaxAttempts)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()

	code := resp.StatusCode
	status := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	switch {
	case code >= 200 && code < 300:
		bctx, cancel := bookkeepingContext(ctx)
		defer cancel()
		if err := d.out.CompleteOutbox(bctx, it); err != nil {
			log.ErrorContext(ctx, "change delivered but not marked done; it will be sent again", "status", code, "error", err)
			return
		}
		log.DebugContext(ctx, "change delivered", "status", code)
	case code == http.StatusGone:
		it.Attempts++
		d.dead(ctx, log, it, status)
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests:
		var wait time.Duration
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			wait = retryAfter(resp.Header.Get("Retry-After"), d.opts.Now())
		}
		d.retry(ctx, log, it, code, status, wait, d.opts.MaxAttempts)
	default:
		d.retry(ctx, log, it, code, status, 0, min(d.opts.MaxAttempts, clientErrorAttempts))
	}
}

// retry records a failed attempt: the item goes out again after the backoff
// (or the receiver's Retry-After, when wait > 0), or to the dead letters
// once it has had maxAttempts.
func (d *Dispatcher) retry(ctx context.Context, log *slog.Logger, it engine.OutboxItem, code int, reason string, wait time.Duration, maxAttempts int) {
	it.Attempts++
	if it.Attempts >= maxAttempts {
		d.dead(ctx, log, it, reason)
		return
	}
	if wait <= 0 {
		wait = d.backoff(it.Attempts)
	}
	it.NextAt = d.opts.Now().Add(wait)
	it.LastErr = reason
	bctx, cancel := bookkeepingContext(ctx)
	defer cancel()
	if err := d.out.RetryOutbox(bctx, it); err != nil {
		log.ErrorContext(ctx, "change delivery failed and could not be rescheduled", "status", code, "reason", reason, "error", err)
		return
	}
	log.InfoContext(ctx, "change delivery failed; will retry", "status", code, "reason", reason, "retry_in", wait.Round(time.Millisecond))
}

// dead moves the item to the dead letters.
func (d *Dispatcher) dead(ctx context.Context, log *slog.Logger, it engine.OutboxItem, reason string) {
	it.LastErr = reason
	bctx, cancel := bookkeepingContext(ctx)
	defer cancel()
	if err := d.out.DeadOutbox(bctx, it); err != nil {
		log.ErrorContext(ctx, "change delivery given up but not dead-lettered", "reason", reason, "error", err)
		return
	}
	log.WarnContext(ctx, "change delivery given up; kept as a dead letter", "attempts", it.Attempts, "reason", reason)
}

// backoff returns the delay after the given number of failed attempts:
// BaseBackoff doubled per attempt, capped at MaxBackoff, of which a random
// half is taken off so that many items failing together spread out.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	delay := d.opts.MaxBackoff
	if shift := attempts - 1; shift < 32 {
		if b := d.opts.BaseBackoff << shift; b > 0 && b < delay {
			delay = b
		}
	}
	half := delay / 2
	return half + rand.N(delay-half+1)
}

// retryAfter parses a Retry-After header, seconds or an HTTP date; zero if
// absent or unparsable.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(h); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

func bookkeepingContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
}

// describe returns an error's text without the request URL, which may carry
// credentials or tokens.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if len(s) > maxErrLen {
		s = s[:maxErrLen] + "..."
	}
	return s
}

// targetHost returns the host of a target URL, for logs.
func targetHost(target string) string {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Host
}
