package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"heed/engine"
)

// Task types.
const (
	typePlan    = "heed:plan"    // plan one chunk of users for one occurrence
	typeDeliver = "heed:deliver" // attempt a batch of contacts due at one time
)

// planPayload is one chunk of a run's planning: the users in (After, Upto].
type planPayload struct {
	Job   engine.PlanJob `json:"job"`
	Chunk int            `json:"chunk"`
	After engine.UserID  `json:"after,omitempty"`
	Upto  engine.UserID  `json:"upto,omitempty"`
}

// deliverPayload is a batch of contacts of one campaign and run, due at
// one second, kept small: Redis holds every scheduled task until it runs.
type deliverPayload struct {
	Campaign  string      `json:"c"`
	Run       string      `json:"r,omitempty"`
	Due       int64       `json:"d"` // Unix seconds
	WindowEnd int64       `json:"w"` // Unix seconds
	Contacts  [][2]string `json:"u"` // user, occurrence
}

func (p deliverPayload) contacts() []engine.Contact {
	out := make([]engine.Contact, len(p.Contacts))
	for i, uc := range p.Contacts {
		out[i] = engine.Contact{Campaign: p.Campaign, Run: p.Run, User: engine.UserID(uc[0]), Occurrence: uc[1],
			Due: time.Unix(p.Due, 0).UTC(), WindowEnd: time.Unix(p.WindowEnd, 0).UTC()}
	}
	return out
}

func (s *Scheduler) enqueue(ctx context.Context, typ string, payload any, opts ...asynq.Option) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	_, err = s.client.EnqueueContext(ctx, asynq.NewTask(typ, b), opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil // queued already: the same task from an earlier attempt
	}
	return err
}

// schedule queues delivery tasks for cs: grouped by campaign, run, due
// second and window, in batches of BatchSize, each processed no earlier
// than its due second (asynq keeps whole seconds: rounding up means never
// early). Task ids derive from the batch, so queueing the same contacts
// again (a retried planning task) adds nothing while the first is queued.
func (s *Scheduler) schedule(ctx context.Context, cs []engine.Contact, tag string) error {
	type group struct {
		campaign, run string
		due, window   int64
	}
	groups := map[group][][2]string{}
	var order []group
	for _, c := range cs {
		g := group{c.Campaign, c.Run, ceilUnix(c.Due), ceilUnix(c.WindowEnd)}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], [2]string{string(c.User), c.Occurrence})
	}
	for _, g := range order {
		for batch := range slices.Chunk(groups[g], s.opts.BatchSize) {
			p := deliverPayload{Campaign: g.campaign, Run: g.run, Due: g.due, WindowEnd: g.window, Contacts: batch}
			id := "dlv:" + tag + ":" + batchID(p)
			if err := s.enqueue(ctx, typeDeliver, p, asynq.Queue(s.queue("deliver")), asynq.TaskID(id),
				asynq.ProcessAt(time.Unix(g.due, 0)), asynq.MaxRetry(20), asynq.Timeout(5*time.Minute)); err != nil {
				return fmt.Errorf("queue deliveries: %w", err)
			}
		}
	}
	return nil
}

func ceilUnix(t time.Time) int64 {
	u := t.Unix()
	if t.Nanosecond() > 0 {
		u++
	}
	return u
}

// batchID names a batch by its content.
func batchID(p deliverPayload) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d", p.Campaign, p.Run, p.Due, p.WindowEnd)
	for _, c := range p.Contacts {
		fmt.Fprintf(h, "\x00%s\x00%s", c[0], c[1])
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func (s *Scheduler) handlePlan(ctx context.Context, t *asynq.Task) error {
	var p planPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("%w: bad plan payload: %v", asynq.SkipRetry, err)
	}
	res, err := s.planner.PlanChunk(ctx, p.Job, p.After, p.Upto)
	if err != nil {
		return fmt.Errorf("plan chunk %d of run %s: %w", p.Chunk, p.Job.Run, err)
	}
	if s.opts.Metrics != nil {
		s.opts.Metrics.Planned(res.Scheduled)
	}
	return s.schedule(ctx, res.Contacts, fmt.Sprintf("%s:%d", p.Job.Run, p.Chunk))
}

// handleDeliver attempts each contact of a batch, SendParallel at a time.
// It fails (and asynq runs it again later) only when heed's store or Redis
// failed; contacts already settled are skipped by the ledger then.
func (s *Scheduler) handleDeliver(ctx context.Context, t *asynq.Task) error {
	var p deliverPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("%w: bad delivery payload: %v", asynq.SkipRetry, err)
	}
	s.log.DebugContext(ctx, "scheduler: delivering a batch", "campaign_id", p.Campaign, "contacts", len(p.Contacts))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, s.opts.SendParallel)
	)
	for _, c := range p.contacts() {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := s.deliverOne(ctx, c); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d deliveries: %w", len(errs), len(p.Contacts), errors.Join(errs[:min(len(errs), 3)]...))
	}
	return nil
}

// deliverOne takes one contact through the send-time decision, its
// channel and the ledger.
func (s *Scheduler) deliverOne(ctx context.Context, c engine.Contact) error {
	out, err := s.deliver.Prepare(ctx, c)
	if err != nil {
		return err
	}
	d := out.Delivery
	if !out.Send {
		return s.settled(ctx, d)
	}
	res := engine.SendResult{Items: out.Items, Personalized: out.Personalized}
	sender := s.opts.Senders[d.Channel]
	if sender == nil {
		res.Err = fmt.Errorf("%s: %w", d.Channel, errNoSender)
	} else {
		msg := Message{DeliveryID: d.ID, IdempotencyKey: d.IdempotencyKey, CampaignID: d.Campaign, User: d.User,
			Channel: d.Channel, To: out.To, Offer: out.Offer, Title: out.Title, Body: out.Body,
			UnsubscribeURL: out.UnsubscribeURL, SentAt: s.opts.Now().UTC()}
		res.Err = sender.Send(ctx, msg)
		if ok, after := Retryable(res.Err); ok && d.Attempts+1 < s.opts.MaxAttempts {
			res.RetryAt = s.opts.Now().Add(max(after, s.backoff(d.Attempts+1)))
		}
	}
	// Record the outcome even if ctx ended meanwhile: the message may
	// have gone out.
	fin, err := s.deliver.Finish(context.WithoutCancel(ctx), d.DeliveryKey(), res)
	if err != nil {
		return err
	}
	return s.settled(ctx, fin)
}

// backoff is the wait before channel attempt n+1 after n failed: with
// the default base 10 s, 40 s, 1.5 min, 2.7 min, ... up to 15 min.
func (s *Scheduler) backoff(n int) time.Duration {
	return min(time.Duration(n*n)*s.opts.RetryBase, 15*time.Minute)
}

// settled counts a delivery that is final, and queues one that waits (a
// deferral, a retry, an early task) for the time it waits for.
func (s *Scheduler) settled(ctx context.Context, d engine.Delivery) error {
	if d.Status.Final() {
		if s.opts.Metrics != nil {
			var late time.Duration
			if d.Status == engine.DeliverySent {
				late = d.SentAt.Sub(d.Due)
			}
			s.opts.Metrics.Delivered(d.Channel, d.Status, d.Reason, late)
		}
		return nil
	}
	if d.DeferredUntil.IsZero() {
		return nil // claimed by another worker, which settles it
	}
	if s.opts.Metrics != nil && d.Status == engine.DeliveryDeferred {
		s.opts.Metrics.Delivered(d.Channel, d.Status, d.Reason, 0)
	}
	c := d.Contact
	c.Due = d.DeferredUntil
	// The task's id is a hash of the contact and its time: no Redis key
	// names a user.
	return s.schedule(ctx, []engine.Contact{c}, "again")
}
