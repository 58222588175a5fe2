package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// repeatWindow is how long a library's warning is not logged again word
// for word: while Redis is down, asynq and go-redis each complain every
// second or so, and one line a minute says as much.
const repeatWindow = time.Minute

// asynqLogger passes asynq's log lines to slog.
type asynqLogger struct {
	log  *slog.Logger
	seen *repeats
}

func newAsynqLogger(log *slog.Logger) asynqLogger {
	return asynqLogger{log, newRepeats(time.Now)}
}

func (l asynqLogger) Debug(args ...any) { l.log.Debug("asynq: " + fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info("asynq: " + fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any) {
	l.seen.log(context.Background(), l.log, slog.LevelWarn, "asynq: "+fmt.Sprint(args...))
}
func (l asynqLogger) Error(args ...any) {
	l.seen.log(context.Background(), l.log, slog.LevelError, "asynq: "+fmt.Sprint(args...))
}

// Fatal is called by asynq only for errors it cannot go on from; heed logs
// them and carries on rather than exit in the middle of a request.
func (l asynqLogger) Fatal(args ...any) { l.log.Error("asynq (fatal): " + fmt.Sprint(args...)) }

// A GoRedisLogger passes go-redis's own lines (failed dials while Redis is
// down, mostly) to slog as warnings, rather than as plain text that breaks
// the JSON lines on stderr. Install it with redis.SetLogger: go-redis has
// one logger per process.
type GoRedisLogger struct {
	log  *slog.Logger
	seen *repeats
}

func NewGoRedisLogger(log *slog.Logger) GoRedisLogger {
	return GoRedisLogger{log, newRepeats(time.Now)}
}

func (l GoRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if !strings.HasPrefix(msg, "redis: ") {
		msg = "redis: " + msg
	}
	l.seen.log(ctx, l.log, slog.LevelWarn, msg)
}

// repeats remembers the warnings and errors logged within the last
// repeatWindow. One logged again word for word within it is counted, not
// logged; the next time it is logged, "repeats_dropped" says how often it
// was dropped.
type repeats struct {
	now func() time.Time
	mu  sync.Mutex
	at  map[string]*repeat
}

type repeat struct {
	at      time.Time // when it was last logged
	dropped int       // since then
}

// maxRepeats bounds the lines remembered: lines that vary (an id, a
// count) are each new, and must not grow the map without end.
const maxRepeats = 256

func newRepeats(now func() time.Time) *repeats {
	return &repeats{now: now, at: map[string]*repeat{}}
}

func (r *repeats) log(ctx context.Context, log *slog.Logger, level slog.Level, msg string) {
	if level < slog.LevelWarn || !log.Enabled(ctx, level) {
		log.Log(ctx, level, msg)
		return
	}
	r.mu.Lock()
	now := r.now()
	p := r.at[msg]
	if p != nil && now.Sub(p.at) < repeatWindow {
		p.dropped++
		r.mu.Unlock()
		return
	}
	var dropped int
	if p != nil {
		dropped = p.dropped
	}
	if p == nil && len(r.at) >= maxRepeats {
		for k, q := range r.at {
			if now.Sub(q.at) >= repeatWindow {
				delete(r.at, k)
			}
		}
	}
	if p != nil || len(r.at) < maxRepeats {
		r.at[msg] = &repeat{at: now}
	}
	r.mu.Unlock()
	if dropped > 0 {
		log.Log(ctx, level, msg, "repeats_dropped", dropped)
		return
	}
	log.Log(ctx, level, msg)
}
