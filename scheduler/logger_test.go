package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// While Redis is down, a library's warning repeated word for word is
// logged once a minute, with the count of those dropped; other lines, and
// lines below warning, are not held back.
func TestRepeatsLoggedOnceAMinute(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	now := time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC)
	r := newRepeats(func() time.Time { return now })
	ctx := context.Background()
	const down = "redis: connection pool: failed to dial after 5 attempts: connect: connection refused"
	for range 30 { // a second apart
		r.log(ctx, log, slog.LevelWarn, down)
		r.log(ctx, log, slog.LevelDebug, "asynq: heartbeat")
		now = now.Add(time.Second)
	}
	r.log(ctx, log, slog.LevelError, "asynq: dequeue failed")
	now = now.Add(30 * time.Second) // a minute after the first
	r.log(ctx, log, slog.LevelWarn, down)
	r.log(ctx, log, slog.LevelWarn, down)

	type line struct {
		Level, Msg string
		Dropped    int `json:"repeats_dropped"`
	}
	var got []line
	for s := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var l line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatal(err)
		}
		if l.Msg != "asynq: heartbeat" {
			got = append(got, l)
		}
	}
	want := []line{
		{"WARN", down, 0},
		{"ERROR", "asynq: dequeue failed", 0},
		{"WARN", down, 29},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("logged %v, want %v", got, want)
	}
	if n := strings.Count(buf.String(), "asynq: heartbeat"); n != 30 {
		t.Errorf("%d debug lines logged, want all 30", n)
	}
}

// Lines that vary each time are each logged, and remembering them stops
// at maxRepeats.
func TestRepeatsStayBounded(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	now := time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC)
	r := newRepeats(func() time.Time { return now })
	for i := range 3 * maxRepeats {
		r.log(context.Background(), log, slog.LevelWarn, fmt.Sprintf("asynq: task %d failed", i))
		if i == 2*maxRepeats {
			now = now.Add(repeatWindow) // the first ones are forgotten
		}
	}
	if n := strings.Count(buf.String(), "\n"); n != 3*maxRepeats {
		t.Errorf("%d lines logged, want every one of %d", n, 3*maxRepeats)
	}
	if len(r.at) > maxRepeats {
		t.Errorf("%d lines remembered, want at most %d", len(r.at), maxRepeats)
	}
}
