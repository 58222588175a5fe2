package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"heed/engine"
	"heed/scheduler"
)

// workerCmd runs heed worker: campaign workers for a running heed serve,
// on the Redis that heed uses. Badger is single-process, so a worker
// reaches the store through heed's worker routes (api/handle_worker.go) for
// every step that reads or writes it; it sends through its own channels.
// With --plan it also takes its turn as the planner (one planner at a time,
// across every process).
func workerCmd(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("heed worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	newClient := clientFlags(fs, getenv)
	redisURL := fs.String("redis", getenv("HEED_REDIS"), "the Redis heed serve uses, redis://host:port/db (env HEED_REDIS); required")
	var channels listFlag
	fs.Var(&channels, "channel", "channel target name=target (repeatable), HEED_CHANNELS, as for heed serve (default: every channel is log)")
	plan := fs.Bool("plan", false, "also take part in planning (one planner at a time across processes)")
	concurrency := fs.Int("concurrency", 8, "delivery tasks worked at once")
	logLevel := fs.String("log-level", envOr(getenv, "HEED_LOG_LEVEL", "info"), "debug, info, warn or error (env HEED_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: unknown level %q", *logLevel)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	redis.SetLogger(scheduler.NewGoRedisLogger(log))
	if *redisURL == "" {
		return errors.New("--redis (or HEED_REDIS) is required: the Redis heed serve uses")
	}
	if err := checkRedisURL("--redis", *redisURL); err != nil {
		return err
	}
	vals := []string(channels)
	src := "--channel"
	if len(vals) == 0 && getenv("HEED_CHANNELS") != "" {
		vals, src = []string{getenv("HEED_CHANNELS")}, "HEED_CHANNELS"
	}
	targets, err := parseChannels(src, vals)
	if err != nil {
		return err
	}
	secret := []byte(getenv("HEED_WEBHOOK_SECRET"))
	for _, t := range targets {
		if t.Kind == targetWebhook && len(secret) < minSecretLen {
			return errors.New("HEED_WEBHOOK_SECRET is required with a webhook channel: the secret heed serve signs with")
		}
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	var info struct {
		Namespace string `json:"namespace"`
	}
	if err := c.call(ctx, "GET", "/v1/worker", nil, &info); err != nil {
		return fmt.Errorf("reach heed at %s: %w", c.base, err)
	}
	ropts, err := redis.ParseURL(*redisURL)
	if err != nil {
		return fmt.Errorf("--redis: %w", err)
	}
	rdb := redis.NewClient(ropts)
	defer rdb.Close()
	r := remote{c}
	s := scheduler.New(rdb, r, r, r, scheduler.Options{
		Plan:        *plan,
		Namespace:   info.Namespace,
		Concurrency: *concurrency,
		Senders:     senders(targets, secret, log),
	}, log)
	defer s.Close()
	log.InfoContext(ctx, "heed worker is working", "heed", redactedURL(c.base), "plan", *plan)
	err = s.Run(ctx)
	log.Info("heed worker stopped")
	return err
}

func redactedURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// remote is the scheduler's planner, deliverer and ledger, reached through
// heed's worker routes.
type remote struct{ c *client }

func (r remote) Due(ctx context.Context, now time.Time) ([]engine.PlanJob, error) {
	var out struct {
		Jobs []engine.PlanJob `json:"jobs"`
	}
	err := r.c.call(ctx, "POST", "/v1/worker/due", map[string]any{"now": now}, &out)
	return out.Jobs, err
}

func (r remote) Bounds(ctx context.Context) ([]engine.UserID, error) {
	var out struct {
		Bounds []engine.UserID `json:"bounds"`
	}
	err := r.c.call(ctx, "GET", "/v1/worker/bounds", nil, &out)
	return out.Bounds, err
}

func (r remote) Dispatched(ctx context.Context, job engine.PlanJob, chunks int) error {
	return r.c.call(ctx, "POST", "/v1/worker/dispatched", map[string]any{"job": job, "chunks": chunks}, nil)
}

func (r remote) PlanChunk(ctx context.Context, job engine.PlanJob, after, upto engine.UserID) (engine.PlanResult, error) {
	var out struct {
		Result   engine.PlanResult `json:"result"`
		Contacts []engine.Contact  `json:"contacts"`
	}
	err := r.c.call(ctx, "POST", "/v1/worker/plan", map[string]any{"job": job, "after": after, "upto": upto}, &out)
	out.Result.Contacts = out.Contacts
	return out.Result, err
}

func (r remote) Prepare(ctx context.Context, ct engine.Contact) (engine.Outgoing, error) {
	var out engine.Outgoing
	err := r.c.call(ctx, "POST", "/v1/worker/prepare", ct, &out)
	return out, err
}

func (r remote) Finish(ctx context.Context, key string, res engine.SendResult) (engine.Delivery, error) {
	in := map[string]any{"key": key, "items": res.Items, "personalized": res.Personalized}
	if res.Err != nil {
		in["error"] = res.Err.Error()
	}
	if !res.RetryAt.IsZero() {
		in["retry_at"] = res.RetryAt
	}
	var out engine.Delivery
	err := r.c.call(ctx, "POST", "/v1/worker/finish", in, &out)
	return out, err
}

func (r remote) DueDeliveries(ctx context.Context, t time.Time, limit int) ([]engine.Delivery, error) {
	var out struct {
		Deliveries []engine.Delivery `json:"deliveries"`
	}
	err := r.c.call(ctx, "POST", "/v1/worker/sweep", map[string]any{"now": t, "limit": limit}, &out)
	return out.Deliveries, err
}
