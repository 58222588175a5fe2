package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"heed/api"
	"heed/campaigns"
	"heed/changes"
	"heed/engine"
	"heed/engine/badgerstore"
	"heed/policies"
	"heed/recommend"
	"heed/scheduler"
)

// defaultMemoryLimit is the Go runtime's soft memory limit unless GOMEMLIMIT
// is set. Under a heavy write load Badger's table builders alone hold over
// 100 MB of heap; with 200 MiB the collector ran without pause and event
// ingestion fell to 0.6x (docs/BENCHMARKS.md).
const defaultMemoryLimit = 384 << 20

// pprofMux serves Go's profiles, for --debug-addr.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// serve runs heed serve until ctx is done: the API, the change dispatcher,
// the recommender's trainer, and the campaign planner and workers.
// Shutdown order: the HTTP server (in-flight requests finish), the change
// dispatcher and the workers (running tasks finish or go back to Redis),
// then the store, then the private Redis.
func serve(ctx context.Context, cfg config, stdout, stderr io.Writer) (err error) {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	redis.SetLogger(scheduler.NewGoRedisLogger(log))
	started := false
	defer func() {
		if err != nil && !started && ctx.Err() != nil {
			// Asked to stop while starting: whatever step was cut short, it
			// is a clean stop, not a failure.
			log.Info("heed stopped while starting", "step_error", err.Error())
			err = nil
		}
	}()
	if os.Getenv("GOMEMLIMIT") == "" {
		// Badger's builders and caches grow the heap in bursts; a soft limit
		// makes the collector work harder instead, keeping heed under its
		// memory budget (docs/BENCHMARKS.md). GOMEMLIMIT overrides it.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}

	// Badger first: it locks the data directory, so a second heed on the same
	// directory stops here, before it touches secrets or Redis.
	db, err := badgerstore.Open(ctx, badgerstore.Options{Dir: filepath.Join(cfg.DataDir, "badger")}, log)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()

	sec, generated, err := loadSecrets(cfg.DataDir, cfg, rand.Reader)
	if err != nil {
		return err
	}
	if generated {
		printGeneratedKeys(stdout, sec)
	}

	var redisExited <-chan struct{} // nil: an external Redis, never closed
	if cfg.RedisURL == "" {
		rc, err := startRedis(ctx, cfg.DataDir, log)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, rc.Stop()) }()
		redisExited = rc.Exited()
		cfg.RedisURL = rc.URL()
	} else {
		log.InfoContext(ctx, "using the Redis given by HEED_REDIS / --redis")
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("redis URL: %w", err)
	}
	rdb := redis.NewClient(ropts)
	defer rdb.Close()

	overrides, err := db.PolicyModules(ctx)
	if err != nil {
		return fmt.Errorf("load stored policy modules: %w", err)
	}
	pol, err := policies.New(ctx, policies.Options{Dir: cfg.PoliciesDir, Overrides: overrides}, log)
	if err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	log.InfoContext(ctx, "policies loaded", "revision", pol.Revision(), "modules", len(pol.Modules()))

	// The recommender: the live catalog from the store, the last model
	// snapshot if there is one.
	catalog := recommend.NewCatalog()
	nItems := 0
	for it, err := range db.ScanItems(ctx) {
		if err != nil {
			return fmt.Errorf("load catalog: %w", err)
		}
		catalog.Put(it)
		nItems++
	}
	live := recommend.NewLive(catalog)

	disp := changes.New(db, changes.Options{Secret: sec.WebhookSecret}, log)
	var sched *scheduler.Scheduler // set below: campaigns dispatch runs through it, erasures tell it
	var camp *campaigns.Service    // set below: the engine tells it of purchases
	tr := &recommend.Trainer{Items: db.ScanItems, Live: live, Path: filepath.Join(cfg.DataDir, "model", "model.snap"),
		Options: recommend.DefaultOptions(), Log: log}
	svc := engine.NewService(db, pol, engine.Options{
		ChangeTargets: cfg.ChangeWebhooks,
		ProofKey:      sec.ProofKey,
		Tokens:        engine.Tokens{Secret: sec.TokenSecret},
		Changed:       disp.Wake,
		Recommender:   live,
		Erased:        func() { tr.Soon(); sched.Erased() },
		Purchased:     func(ctx context.Context, ps []engine.Event) { camp.Attribute(ctx, ps) },
		SendLease:     cfg.SendLease,
	}, log)
	tr.Events = svc.TrainingEvents
	if err := tr.Load(); err != nil {
		return err
	}
	if live.Model() == nil {
		tr.Soon() // no snapshot yet: the first model a minute after start, not a schedule later
	}
	log.InfoContext(ctx, "recommender ready", "items", nItems, "model", live.Model() != nil)

	// Listen before building the campaigns: unsubscribe links need the port.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	public := cfg.publicURL(ln.Addr().String())
	camp = campaigns.NewService(db, svc, pol, campaigns.Options{
		UnsubscribeURL: func(d engine.Delivery) string { return public + "/unsubscribe/" + svc.UnsubscribeToken(d) },
		Recommender:    campaigns.ForYou{Source: svc},
	}, log)
	reg := prometheus.NewRegistry()
	sched = scheduler.New(rdb, camp, camp, db, scheduler.Options{
		Plan:        true,
		NoWorkers:   cfg.Workers == 0,
		Concurrency: cfg.Workers,
		Namespace:   db.Instance(),
		Senders:     senders(cfg.Channels, sec.WebhookSecret, log),
		Metrics:     api.NewDeliveryMetrics(reg),
		SweepAfter:  cfg.SendLease,
		Erasures:    db,
	}, log)
	defer sched.Close()

	gin.SetMode(gin.ReleaseMode)
	handler := api.NewServer(api.Config{
		Service: svc,
		Keys:    sec.keyRoles(),
		Log:     log,
		MaxBody: cfg.MaxBody,
		Ready: map[string]func(context.Context) error{
			"badger": db.Ping,
			"redis":  func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
		},
		Registry:  reg,
		Trainer:   api.TrainerOf(tr),
		Campaigns: camp,
		Dispatch:  sched.Dispatch,
		Namespace: db.Instance(),
		// Page sessions outlive a restart, signed like shopper tokens (each
		// under a domain of its own).
		SessionSecret: sec.TokenSecret,
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	log.InfoContext(ctx, "heed is serving", "addr", ln.Addr().String(), "version", version)
	started = true

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	g.Go(func() error { return disp.Run(gctx) })
	g.Go(func() error { tr.Run(engine.SystemContext(gctx), cfg.TrainEvery); return nil })
	g.Go(func() error { return sched.Run(engine.SystemContext(gctx)) })
	if cfg.DebugAddr != "" {
		dbg := &http.Server{Addr: cfg.DebugAddr, Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
		log.InfoContext(ctx, "serving Go profiles on /debug/pprof/", "addr", cfg.DebugAddr)
		g.Go(func() error {
			if err := dbg.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("debug server: %w", err)
			}
			return nil
		})
		g.Go(func() error { <-gctx.Done(); return dbg.Close() })
	}
	g.Go(func() error {
		select {
		case <-gctx.Done():
			return nil
		case <-redisExited:
			return errors.New("the private redis-server exited unexpectedly; see redis/redis.log in the data directory")
		}
	})
	err = g.Wait()
	log.Info("heed stopped")
	return err
}
