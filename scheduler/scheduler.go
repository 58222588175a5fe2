package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"heed/engine"
)

// Planner turns campaign occurrences into contacts; *campaigns.Service
// satisfies it.
type Planner interface {
	// Due returns the occurrences to plan at now, each handed out once.
	Due(ctx context.Context, now time.Time) ([]engine.PlanJob, error)
	// Bounds returns the user ids that split the users into chunks.
	Bounds(ctx context.Context) ([]engine.UserID, error)
	// Dispatched records that job's chunks are queued.
	Dispatched(ctx context.Context, job engine.PlanJob, chunks int) error
	// PlanChunk plans job for the users in (after, upto] and returns the
	// contacts it scheduled in the ledger.
	PlanChunk(ctx context.Context, job engine.PlanJob, after, upto engine.UserID) (engine.PlanResult, error)
}

// Deliverer makes the send-time decision about a contact and renders its
// message, then records what the channel made of it; *campaigns.Service
// satisfies it.
type Deliverer interface {
	Prepare(ctx context.Context, c engine.Contact) (engine.Outgoing, error)
	Finish(ctx context.Context, key string, res engine.SendResult) (engine.Delivery, error)
}

// Ledger finds deliveries that are due but whose task is lost or late;
// engine/badgerstore.DB satisfies it.
type Ledger interface {
	DueDeliveries(ctx context.Context, t time.Time, limit int) ([]engine.Delivery, error)
}

// Erasures lists the erased users whose ids are still to be taken out of
// the tasks in Redis (see queueForget); engine/badgerstore.DB satisfies
// it. The list is durable, so an erasure while Redis is down is seen to
// once it is back.
type Erasures interface {
	ErasedToForget(ctx context.Context, limit int) ([]engine.UserID, error)
	// Forgotten records that their forgetting has been queued.
	Forgotten(ctx context.Context, ids []engine.UserID) error
}

// Metrics counts what the scheduler does; nil: nothing is counted.
type Metrics interface {
	// Planned counts contacts scheduled by planning.
	Planned(n int)
	// Delivered counts a delivery that reached a final status or was
	// deferred; lateness (sent only) is how long after its due time it
	// was sent.
	Delivered(ch engine.Channel, status engine.DeliveryStatus, reason string, lateness time.Duration)
}

// Options configure a Scheduler. Zero values take the default in the
// comment.
type Options struct {
	// Namespace tells apart the queues and planner lease of heeds that
	// share a Redis but not a store: the store's instance id. Processes
	// working one store use the same namespace.
	Namespace string
	// Plan runs the planner and the sweeper (when this process holds the
	// planner lease); false: workers only (heed worker).
	Plan bool
	// NoWorkers runs no workers in this process: it only plans (with
	// Plan), and heed worker processes work the tasks.
	NoWorkers bool
	// Concurrency is how many tasks run at once; zero: 8. Each delivery
	// task sends its contacts SendParallel at a time.
	Concurrency  int
	SendParallel int // zero: 16
	// PlanEvery is how often the planner looks for occurrences and the
	// sweeper for lost deliveries; zero: 15 s.
	PlanEvery time.Duration
	// BatchSize is how many contacts one delivery task carries; zero: 100.
	BatchSize int
	// MaxAttempts is how often a channel is tried for one delivery before
	// it counts as failed; zero: 5. RetryBase scales the wait between
	// attempts (n² × RetryBase after the nth, up to 15 minutes, or the
	// provider's Retry-After if longer); zero: 10 s.
	MaxAttempts int
	RetryBase   time.Duration
	// Senders deliver through each channel; a channel without one fails
	// its deliveries.
	Senders map[engine.Channel]Sender
	// Metrics, if set, counts deliveries.
	Metrics Metrics
	// SweepAfter is how late a due delivery must be before the sweeper
	// queues it again (its own task normally runs within seconds); zero:
	// two minutes.
	SweepAfter time.Duration
	// PollInterval is how often asynq moves due scheduled tasks to their
	// queue; zero: 1 s (asynq's default, 5 s, would make sends up to 5 s
	// late).
	PollInterval time.Duration
	// Erasures, if set, are drained into forget tasks: by the process that
	// holds the store (heed serve), whether or not it is the planner, at
	// once when woken (Erased) and every PlanEvery.
	Erasures Erasures
	// ForgetAgain is how long after an erasure the queue is looked
	// through a second time, for a planning chunk that read the user just
	// before the erasure and queued them just after; zero: one minute.
	ForgetAgain time.Duration
	// Now returns the current time; nil: time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.SendParallel <= 0 {
		o.SendParallel = 16
	}
	if o.PlanEvery <= 0 {
		o.PlanEvery = 15 * time.Second
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 10 * time.Second
	}
	if o.SweepAfter <= 0 {
		o.SweepAfter = 2 * time.Minute
	}
	if o.ForgetAgain <= 0 {
		o.ForgetAgain = time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// A Scheduler plans occurrences into delivery tasks on asynq and works
// those tasks: the send-time decision, the channel, the outcome. heed's own
// delivery ledger, not asynq, guarantees at most one send per (campaign,
// user, occurrence): asynq runs a task at least once, and every task here
// is safe to run again.
type Scheduler struct {
	rdb       redis.UniversalClient
	client    *asynq.Client
	inspector *asynq.Inspector
	planner   Planner
	deliver   Deliverer
	ledger    Ledger
	opts      Options
	log       *slog.Logger
	erased    chan struct{} // wakes drainErasures
}

// New returns a Scheduler on Redis rdb. Run starts it.
func New(rdb redis.UniversalClient, planner Planner, deliver Deliverer, ledger Ledger, opts Options, log *slog.Logger) *Scheduler {
	return &Scheduler{rdb: rdb, client: asynq.NewClientFromRedisClient(rdb), inspector: asynq.NewInspectorFromRedisClient(rdb), planner: planner, deliver: deliver,
		ledger: ledger, opts: opts.withDefaults(), log: log, erased: make(chan struct{}, 1)}
}

// queue names a queue of the namespace; delivering weighs more than
// planning more.
func (s *Scheduler) queue(kind string) string {
	if s.opts.Namespace == "" {
		return "heed-" + kind
	}
	return "heed-" + s.opts.Namespace + "-" + kind
}

// Run works tasks, and plans and sweeps while this process holds the
// planner lease, until ctx is done; then it stops taking tasks and waits
// for those running (asynq requeues any that outlive its shutdown timeout;
// the ledger makes running them again harmless).
func (s *Scheduler) Run(ctx context.Context) error {
	srv := asynq.NewServerFromRedisClient(s.rdb, asynq.Config{
		Concurrency:              s.opts.Concurrency,
		Queues:                   map[string]int{s.queue("deliver"): 6, s.queue("plan"): 2},
		DelayedTaskCheckInterval: s.opts.PollInterval,
		ShutdownTimeout:          10 * time.Second,
		RetryDelayFunc:           retryDelay,
		Logger:                   newAsynqLogger(s.log),
		LogLevel:                 asynq.WarnLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(typeDeliver, s.handleDeliver)
	mux.HandleFunc(typePlan, s.handlePlan)
	mux.HandleFunc(typeForget, s.handleForget)
	if !s.opts.NoWorkers {
		if err := srv.Start(mux); err != nil {
			return fmt.Errorf("scheduler: start workers: %w", err)
		}
		defer srv.Shutdown()
	}
	var wg sync.WaitGroup
	if s.opts.Plan {
		wg.Go(func() { s.lead(ctx) })
	}
	if s.opts.Erasures != nil {
		wg.Go(func() { s.drainErasures(ctx) })
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// Close releases the client's connections.
func (s *Scheduler) Close() error { return s.client.Close() }

// retryDelay backs off a failed task: 5 s, 20 s, 45 s, ... up to 10 min.
// A task fails only when heed's store or Redis did, not on a channel's
// answer (channels have their own retries, in the ledger).
func retryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	return min(time.Duration(n*n)*5*time.Second, 10*time.Minute)
}

// lead runs the planner and the sweeper while this process holds the
// lease, taking it over when its holder stops renewing.
func (s *Scheduler) lead(ctx context.Context) {
	l := newLease(s.rdb, "heed:"+s.opts.Namespace+":planner", 3*s.opts.PlanEvery)
	defer l.release(context.WithoutCancel(ctx))
	t := time.NewTicker(s.opts.PlanEvery)
	defer t.Stop()
	for {
		held, err := l.hold(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.WarnContext(ctx, "scheduler: the planner lease is unreachable; planning waits for Redis", "err", err)
		case held:
			s.tick(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tick plans what is due and re-queues lost deliveries, once; the leader
// calls it every PlanEvery.
func (s *Scheduler) tick(ctx context.Context) {
	now := s.opts.Now()
	jobs, err := s.planner.Due(ctx, now)
	if err != nil {
		s.log.ErrorContext(ctx, "scheduler: finding due occurrences failed", "err", err)
	}
	for _, job := range jobs {
		if err := s.Dispatch(ctx, job); err != nil {
			s.log.WarnContext(ctx, "scheduler: queueing a run failed; it is tried again", "campaign_id", job.Campaign, "run_id", job.Run, "err", err)
		}
	}
	if err := s.sweep(ctx, now); err != nil {
		s.log.WarnContext(ctx, "scheduler: sweeping the ledger failed", "err", err)
	}
}

// Dispatch queues job's planning, one task per chunk of users.
func (s *Scheduler) Dispatch(ctx context.Context, job engine.PlanJob) error {
	bounds, err := s.planner.Bounds(ctx)
	if err != nil {
		return err
	}
	for i := 0; i <= len(bounds); i++ {
		p := planPayload{Job: job, Chunk: i}
		if i > 0 {
			p.After = bounds[i-1]
		}
		if i < len(bounds) {
			p.Upto = bounds[i]
		}
		if err := s.enqueue(ctx, typePlan, p, asynq.Queue(s.queue("plan")), asynq.TaskID(fmt.Sprintf("plan:%s:%s:%d", job.Campaign, job.Run, i)),
			asynq.MaxRetry(10), asynq.Timeout(10*time.Minute)); err != nil {
			return err
		}
	}
	s.log.InfoContext(ctx, "scheduler: run queued for planning", "campaign_id", job.Campaign, "run_id", job.Run, "chunks", len(bounds)+1)
	return s.planner.Dispatched(ctx, job, len(bounds)+1)
}

// sweep queues the deliveries that are due but were not attempted in time
// (a task lost with Redis data, a worker that crashed holding a claim),
// one task each, named by the delivery and its due time so that a
// delivery waits in Redis at most once per due time. While deliveries are
// waiting in the queue, late ones are a backlog, not lost: it waits.
func (s *Scheduler) sweep(ctx context.Context, now time.Time) error {
	if info, err := s.inspector.GetQueueInfo(s.queue("deliver")); err == nil && info.Pending > 0 {
		return nil
	}
	ds, err := s.ledger.DueDeliveries(ctx, now.Add(-s.opts.SweepAfter), 10*s.opts.BatchSize)
	if err != nil || len(ds) == 0 {
		return err
	}
	s.log.InfoContext(ctx, "scheduler: queueing deliveries found late in the ledger", "deliveries", len(ds))
	for _, d := range ds {
		c := d.Contact
		c.Due = d.NextDue()
		if err := s.schedule(ctx, []engine.Contact{c}, "sweep"); err != nil {
			return err
		}
	}
	return nil
}

var errNoSender = errors.New("no sender is configured for the channel")
