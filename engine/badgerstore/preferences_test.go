package badgerstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

func TestPreferences(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")

	got, err := db.Preferences(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(engine.DefaultPreferences(), got); diff != "" || got.Version != 0 {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}

	act := engine.ActivityEntry{ID: "act_p", User: "u1", At: t0, Action: engine.ActionPreferenceChange, Actor: "shopper"}
	item := engine.OutboxItem{ID: "out_p", NextAt: t0, Change: engine.Change{Event: engine.EventPreferencesChanged, User: "u1"}}
	want := engine.DefaultPreferences()
	want.Version, want.UpdatedAt, want.Language = 1, t0, "zh-CN"
	want.QuietHours = &engine.QuietHours{Start: "22:00", End: "08:00"}
	want.Channels[engine.ChannelSMS] = engine.ChannelPref{Enabled: false}
	updated, err := db.UpdatePreferences(ctx, "u1", func(p engine.Preferences) (engine.Preferences, engine.Effects, error) {
		if p.Version != 0 {
			t.Errorf("fn got version %d, want 0", p.Version)
		}
		return want, engine.Effects{Activity: []engine.ActivityEntry{act}, Outbox: []engine.OutboxItem{item}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, updated); diff != "" {
		t.Errorf("returned (-want +got):\n%s", diff)
	}
	got, err = db.Preferences(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	if entries, _, _ := db.Activity(ctx, "u1", "", 10); len(entries) != 1 {
		t.Errorf("activity entries = %d, want 1", len(entries))
	}
	if due, _ := db.DueOutbox(ctx, t0, 10); len(due) != 1 {
		t.Errorf("outbox items = %d, want 1", len(due))
	}

	t.Run("fn error writes nothing", func(t *testing.T) {
		errStale := errors.New("stale")
		_, err := db.UpdatePreferences(ctx, "u1", func(p engine.Preferences) (engine.Preferences, engine.Effects, error) {
			p.Version = 99
			return p, engine.Effects{Activity: []engine.ActivityEntry{act}}, errStale
		})
		if !errors.Is(err, errStale) {
			t.Fatalf("err = %v, want the error of fn", err)
		}
		got, err := db.Preferences(ctx, "u1")
		if err != nil || got.Version != 1 {
			t.Errorf("version after a failed update = %d, %v; want 1", got.Version, err)
		}
		if entries, _, _ := db.Activity(ctx, "u1", "", 10); len(entries) != 1 {
			t.Errorf("activity entries = %d, want 1", len(entries))
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		_, err := db.Preferences(ctx, "nobody")
		wantErr(t, err, engine.ErrNotFound)
		called := false
		_, err = db.UpdatePreferences(ctx, "nobody", func(p engine.Preferences) (engine.Preferences, engine.Effects, error) {
			called = true
			return p, engine.Effects{}, nil
		})
		wantErr(t, err, engine.ErrNotFound)
		if called {
			t.Error("fn was called for an unknown user")
		}
	})
}

// TestPreferencesConcurrent runs read-modify-write updates from many
// goroutines: each must see the previous one's result (no lost update).
func TestPreferencesConcurrent(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	const workers, each = 16, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := db.UpdatePreferences(ctx, "u1", func(p engine.Preferences) (engine.Preferences, engine.Effects, error) {
					p.Version++
					p.Categories = append(p.Categories, "c")
					return p, engine.Effects{}, nil
				})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	got, err := db.Preferences(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != workers*each || len(got.Categories) != workers*each {
		t.Errorf("version %d with %d categories, want %d of both", got.Version, len(got.Categories), workers*each)
	}
}
