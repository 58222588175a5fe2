package eval

import (
	"math"
	"testing"

	"heed/engine"
)

func TestCaseMetrics(t *testing.T) {
	ids := func(s ...string) []engine.ItemID {
		out := make([]engine.ItemID, len(s))
		for i, x := range s {
			out[i] = engine.ItemID(x)
		}
		return out
	}
	tests := []struct {
		name             string
		ranked, targets  []engine.ItemID
		hr, ndcg, recall float64
	}{
		{"miss", ids("a", "b"), ids("x"), 0, 0, 0},
		{"first", ids("x", "b"), ids("x"), 1, 1, 1},
		{"second of two targets", ids("a", "x"), ids("x", "y"), 1, (1 / math.Log2(3)) / (1 + 1/math.Log2(3)), 0.5},
		{"hit at 15 counts for recall only", ids("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "x"), ids("x"), 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hr, ndcg, recall := caseMetrics(tt.ranked, tt.targets)
			if hr != tt.hr || math.Abs(ndcg-tt.ndcg) > 1e-12 || recall != tt.recall {
				t.Errorf("got %v %v %v, want %v %v %v", hr, ndcg, recall, tt.hr, tt.ndcg, tt.recall)
			}
		})
	}
}
