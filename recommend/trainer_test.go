package recommend_test

import (
	"context"
	"iter"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"heed/engine"
	"heed/recommend"
)

func testTrainer(t *testing.T, path string, runs *atomic.Int32) *recommend.Trainer {
	items := fixtureItems()
	return &recommend.Trainer{
		Events: func(context.Context) iter.Seq2[engine.Event, error] {
			runs.Add(1)
			return seq(fixtureEvents())
		},
		Items: func(context.Context) iter.Seq2[engine.Item, error] {
			return func(yield func(engine.Item, error) bool) {
				for _, it := range items {
					if !yield(it, nil) {
						return
					}
				}
			}
		},
		Live:      recommend.NewLive(fixtureCatalog()),
		Path:      path,
		Options:   testOptions(),
		Log:       slog.New(slog.DiscardHandler),
		SoonDelay: 20 * time.Millisecond,
	}
}

// TestTrainerSnapshot: a trained model is written to disk and a new
// trainer (a restarted heed) serves the same lists from it.
func TestTrainerSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model", "model.snap")
	var runs atomic.Int32
	tr := testTrainer(t, path, &runs)
	st, err := tr.Train(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Users == 0 || tr.Live.Model() == nil {
		t.Fatalf("stats %+v, model %v", st, tr.Live.Model())
	}
	again := testTrainer(t, path, &runs)
	if err := again.Load(); err != nil {
		t.Fatal(err)
	}
	req := engine.RecRequest{Strategy: engine.StrategyForYou, Personalized: true, History: historyOf(user(1)), Limit: 5, Now: now}
	want, got := tr.Live.Recommend(req), again.Live.Recommend(req)
	if len(want) == 0 || len(got) != len(want) || got[0].Item != want[0].Item {
		t.Errorf("after Load: %v; before: %v", got, want)
	}
}

// TestTrainerSoon: Soon makes Run train once after SoonDelay, however many
// times it is called meanwhile; with no schedule Run trains only then.
func TestTrainerSoon(t *testing.T) {
	var runs atomic.Int32
	tr := testTrainer(t, "", &runs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.Run(ctx, 0); close(done) }()
	for range 5 {
		tr.Soon()
	}
	deadline := time.Now().Add(10 * time.Second)
	for tr.Live.Model() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if tr.Live.Model() == nil {
		t.Fatal("Soon did not lead to a training run")
	}
	time.Sleep(100 * time.Millisecond) // five times SoonDelay: a second run would have started
	cancel()
	<-done
	if n := runs.Load(); n != 1 {
		t.Errorf("%d training runs after five Soon calls in a burst; want 1", n)
	}
}

// TestTrainerSoonCoveredByRun: a run that begins after Soon covers it, so
// Run does not train again when the delay ends.
func TestTrainerSoonCoveredByRun(t *testing.T) {
	var runs atomic.Int32
	tr := testTrainer(t, "", &runs)
	tr.SoonDelay = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.Run(ctx, 0); close(done) }()
	tr.Soon()
	if _, err := tr.Train(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // four delays: the armed Soon has fired
	cancel()
	<-done
	if n := runs.Load(); n != 1 {
		t.Errorf("%d training runs; want 1 (the explicit one covers the Soon)", n)
	}
}
