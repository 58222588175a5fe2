package recommend

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"heed/engine"
)

// A Trainer trains models from what its sources yield, snapshots them and
// swaps them into a Live recommender. One run at a time; safe for
// concurrent use.
type Trainer struct {
	// Events yields the events to learn from: only those their users allow
	// for personalization now (engine.Service.TrainingEvents).
	Events func(ctx context.Context) iter.Seq2[engine.Event, error]
	// Items yields the catalog.
	Items   func(ctx context.Context) iter.Seq2[engine.Item, error]
	Live    *Live
	Path    string // the snapshot file; "": no snapshot
	Options Options
	Log     *slog.Logger
	// SoonDelay is how long Run waits after Soon before training, so that a
	// burst of erasures costs one run; zero: one minute.
	SoonDelay time.Duration

	mu        sync.Mutex   // held for a whole run
	lastStart atomic.Int64 // when the latest run began, Unix ns
	soonAt    atomic.Int64 // when the latest pending Soon came, Unix ns; 0: none
	soonOnce  sync.Once
	soon      chan struct{} // Soon's requests, one pending at most
}

// Load puts the snapshot at Path, if there is one, in use.
func (t *Trainer) Load() error {
	if t.Path == "" {
		return nil
	}
	f, err := os.Open(t.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := ReadModel(f)
	if err != nil {
		return fmt.Errorf("model snapshot %s: %w", t.Path, err)
	}
	t.Live.Swap(m)
	st := m.Stats()
	t.Log.Info("recommender model loaded", "users", st.Users, "items", st.Items, "trained_at", st.TrainedAt)
	return nil
}

// Train trains a model now, writes its snapshot and puts it in use. On
// error the model in use stays.
func (t *Trainer) Train(ctx context.Context) (Stats, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastStart.Store(time.Now().UnixNano())
	var items []engine.Item
	for it, err := range t.Items(ctx) {
		if err != nil {
			return Stats{}, fmt.Errorf("read catalog: %w", err)
		}
		items = append(items, it)
	}
	opts := t.Options
	opts.Progress = func(i, of int, took time.Duration) {
		t.Log.Info("training the recommender", "iteration", i, "of", of, "seconds", took.Seconds())
	}
	m, err := Train(ctx, t.Events(ctx), items, opts)
	if err != nil {
		return Stats{}, fmt.Errorf("train: %w", err)
	}
	if err := t.save(m); err != nil {
		return Stats{}, fmt.Errorf("write model snapshot: %w", err)
	}
	t.Live.Swap(m)
	st := m.Stats()
	t.Log.Info("recommender model trained", "users", st.Users, "items", st.Items,
		"interactions", st.Interactions, "seconds", st.Took.Seconds())
	return st, nil
}

// save writes m's snapshot atomically: a reader sees the old one or the new.
func (t *Trainer) save(m *Model) (err error) {
	if t.Path == "" {
		return nil
	}
	dir := filepath.Dir(t.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(t.Path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := m.WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), t.Path)
}

// Soon asks Run to train a new model within SoonDelay: after an erasure,
// the erased user's data and influence leave the model without waiting for
// the schedule. It never blocks.
func (t *Trainer) Soon() {
	t.soonAt.Store(time.Now().UnixNano()) // the latest request: a run must begin after it
	select {
	case t.soonChan() <- struct{}{}:
	default: // a run is already pending
	}
}

func (t *Trainer) soonChan() chan struct{} {
	t.soonOnce.Do(func() { t.soon = make(chan struct{}, 1) })
	return t.soon
}

// Run trains a model every interval (0: never on a schedule) and SoonDelay
// after each Soon, unless a run began since that Soon (heed train, say),
// until ctx ends. A failed run is logged and the model in use stays.
func (t *Trainer) Run(ctx context.Context, interval time.Duration) {
	var tick <-chan time.Time
	if interval > 0 {
		tk := time.NewTicker(interval)
		defer tk.Stop()
		tick = tk.C
	}
	delay := t.SoonDelay
	if delay <= 0 {
		delay = time.Minute
	}
	var soon <-chan time.Time // armed after Soon
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.soonChan():
			if soon == nil {
				soon = time.After(delay)
			}
			continue
		case <-soon:
			soon = nil
			if asked := t.soonAt.Swap(0); t.lastStart.Load() > asked {
				continue // a run that began after the request covers it
			}
		case <-tick:
		}
		if _, err := t.Train(ctx); err != nil && ctx.Err() == nil {
			t.Log.Error("training failed; the model in use stays", "err", err)
		}
	}
}
