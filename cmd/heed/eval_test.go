package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunEval(t *testing.T) {
	t.Run("baselines P3", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if err := runEval(context.Background(), []string{"--protocol", "P3", "--baselines-only", "--quiet"}, &stdout, &stderr); err != nil {
			t.Fatalf("runEval: %v\n%s", err, stderr.String())
		}
		out := stdout.String()
		for _, want := range []string{"2545 invoices", "bought together (baskets)", "0.534", "10.24432/C5BW33"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("heed sample", func(t *testing.T) {
		if testing.Short() || raceEnabled {
			t.Skip("trains heed's model: seconds, but most of a minute under -race")
		}
		var stdout, stderr bytes.Buffer
		err := runEval(context.Background(), []string{"--protocol=P3", "--factors=8", "--iterations=2", "--max-cases=200"}, &stdout, &stderr)
		if err != nil {
			t.Fatalf("runEval: %v\n%s", err, stderr.String())
		}
		if out := stdout.String(); !strings.Contains(out, "heed complementary") || !strings.Contains(out, "200 invoices") {
			t.Errorf("output:\n%s", out)
		}
		if !strings.Contains(stderr.String(), "ALS iteration 2/2") {
			t.Errorf("no progress lines:\n%s", stderr.String())
		}
	})
	t.Run("bad protocol", func(t *testing.T) {
		err := runEval(context.Background(), []string{"--protocol", "P9"}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "P9") {
			t.Errorf("err = %v, want unknown protocol", err)
		}
	})
}
