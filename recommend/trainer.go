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

	mu sync.Mutex // held for a whole run
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

// Every trains a model every interval until ctx ends. A failed run is
// logged and the model in use stays.
func (t *Trainer) Every(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := t.Train(ctx); err != nil && ctx.Err() == nil {
				t.Log.Error("scheduled training failed; the model in use stays", "err", err)
			}
		}
	}
}
