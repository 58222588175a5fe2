package eval_test

import (
	"context"
	"math"
	"testing"

	"heed/recommend/eval"
)

// TestBaselinesReference checks the baselines against the reference figures
// of data/onlineretail/README.md (HR@10 / NDCG@10), within ±0.02.
func TestBaselinesReference(t *testing.T) {
	ctx := context.Background()
	evs, items := retail()
	s := eval.TestSplit(evs, items)
	b, err := eval.NewBaselines(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]eval.Case{eval.P2: eval.P2Cases(s), eval.P3: eval.P3Cases(s)}
	tests := []struct {
		proto, name string
		r           eval.Ranker
		hr, ndcg    float64
	}{
		{eval.P2, "popularity", b.Popularity(), 0.226, 0.034},
		{eval.P2, "popularity in country", b.CountryPopularity(), 0.269, 0.040},
		{eval.P2, "item-kNN", b.ItemKNN(), 0.332, 0.069},
		{eval.P2, "bought together", b.BoughtTogether(), 0.363, 0.077},
		{eval.P3, "popularity", b.Popularity(), 0.343, 0.057},
		{eval.P3, "item-kNN", b.ItemKNN(), 0.534, 0.159},
		{eval.P3, "bought together", b.BoughtTogether(), 0.519, 0.153},
	}
	const tol = 0.02
	for _, tt := range tests {
		t.Run(tt.proto+"/"+tt.name, func(t *testing.T) {
			m, err := eval.Evaluate(ctx, s, cases[tt.proto], tt.r)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("HR@10 %.3f NDCG@10 %.3f Recall@20 %.3f coverage %.3f", m.HR10, m.NDCG10, m.Recall20, m.Coverage)
			if math.Abs(m.HR10-tt.hr) > tol || math.Abs(m.NDCG10-tt.ndcg) > tol {
				t.Errorf("HR@10 / NDCG@10 = %.3f / %.3f, want %.3f / %.3f ± %.2f", m.HR10, m.NDCG10, tt.hr, tt.ndcg, tol)
			}
		})
	}
}
