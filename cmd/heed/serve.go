package main

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
)

// serve runs heed serve until ctx is done.
//
// TODO(lead): this is a stub that only loads the secrets and runs the
// private Redis; replace its body with the wiring of the store, policies,
// API, scheduler and change dispatcher. Stop order on shutdown: HTTP server,
// then scheduler/workers and the dispatcher, then the store, then Redis.
func serve(ctx context.Context, cfg config, stdout, stderr io.Writer) (err error) {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

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
	}

	log.InfoContext(ctx, "heed serve is running (stub: no API yet)", "addr", cfg.Addr)
	select {
	case <-ctx.Done():
		return nil
	case <-redisExited:
		return errors.New("the private redis-server exited unexpectedly; see redis/redis.log in the data directory")
	}
}
