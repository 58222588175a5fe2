package eval_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"heed/recommend"
	"heed/recommend/eval"
)

// TestRunFull runs the whole evaluation, heed included; it takes minutes
// under -race, so it runs only with HEED_EVAL_FULL=1.
func TestRunFull(t *testing.T) {
	if os.Getenv("HEED_EVAL_FULL") == "" {
		t.Skip("set HEED_EVAL_FULL=1 to run the full evaluation")
	}
	evs, items := retail()
	var progress bytes.Buffer
	rep, err := eval.Run(context.Background(), evs, items, eval.Config{Progress: &progress})
	t.Log(progress.String())
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + table.String())
}

// TestTune runs the tuning grid on the validation split; HEED_EVAL_FULL=1
// runs it (a few minutes).
func TestTune(t *testing.T) {
	if os.Getenv("HEED_EVAL_FULL") == "" {
		t.Skip("set HEED_EVAL_FULL=1 to run the tuning")
	}
	evs, items := retail()
	var progress bytes.Buffer
	best, trials, err := eval.Tune(context.Background(), evs, items, recommend.DefaultOptions(), eval.DefaultGrid(), &progress)
	t.Log(progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) < 2 {
		t.Errorf("%d trials", len(trials))
	}
	t.Logf("best: factors %d, iterations %d, lambda %g, alpha %g, half-life %s", best.Factors, best.Iterations, best.Lambda, best.Alpha, best.HalfLife)
}
