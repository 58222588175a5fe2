//go:build retail

package recommend_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"heed/data/onlineretail"
	"heed/engine"
	"heed/recommend"
	"heed/recommend/eval"
)

// TestRetailEval scores for_you and region (P2) and complementary (P3) on
// the validation split, or on the test split with HEED_SPLIT=test. Run with
// go test -tags retail -run RetailEval -v ./recommend/.
func TestRetailEval(t *testing.T) {
	d, err := onlineretail.Load()
	if err != nil {
		t.Fatal(err)
	}
	evs, items := d.Events(), d.Items()
	s := eval.ValidationSplit(evs, items)
	if os.Getenv("HEED_SPLIT") == "test" {
		s = eval.TestSplit(evs, items)
	}
	o := recommend.DefaultOptions()
	env := func(name string, set func(v float64)) {
		if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
			set(v)
		}
	}
	day := float64(24 * time.Hour)
	env("ALS", func(v float64) { o.Blend.ALS = v })
	env("SIM", func(v float64) { o.Blend.Similar = v })
	env("BW", func(v float64) { o.Blend.BoughtWith = v })
	env("REG", func(v float64) { o.Blend.Region = v })
	env("POP", func(v float64) { o.Blend.Popular = v })
	env("FHL", func(v float64) { o.Blend.HalfLife = time.Duration(v * day) })
	env("HL", func(v float64) { o.HalfLife = time.Duration(v * day) })
	env("LAMBDA", func(v float64) { o.Lambda = v })
	env("ALPHA", func(v float64) { o.Alpha = v })
	env("FACTORS", func(v float64) { o.Factors = int(v) })
	env("ITERS", func(v float64) { o.Iterations = int(v) })
	env("BETA", func(v float64) { o.ComplementBeta = v })
	env("CMIX", func(v float64) { o.CustomerMix = v })
	env("MAXB", func(v float64) { o.MaxBasket = int(v) })
	env("SD", func(v float64) { o.SizeDamping = v })
	env("MAXU", func(v float64) { o.MaxUserItems = int(v) })
	ctx := context.Background()
	h, err := eval.TrainHeed(ctx, s, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := h.Model.Stats()
	t.Logf("%s: trained in %s (%s per iteration) %+v", s.Name, h.Took, st.PerIteration, st)
	p2, err := eval.Evaluate(ctx, s, eval.P2Cases(s), h.Strategy(engine.StrategyForYou))
	if err != nil {
		t.Fatal(err)
	}
	region, err := eval.Evaluate(ctx, s, eval.P2Cases(s), h.Strategy(engine.StrategyRegion))
	if err != nil {
		t.Fatal(err)
	}
	p3, err := eval.Evaluate(ctx, s, eval.P3Cases(s), h.Strategy(engine.StrategyComplementary))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("RESULT %s P2 for_you %+v", s.Name, p2)
	t.Logf("RESULT %s P2 region %+v", s.Name, region)
	t.Logf("RESULT %s P3 complementary %+v", s.Name, p3)
}

func TestRetailBaselines(t *testing.T) {
	d, err := onlineretail.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := eval.ValidationSplit(d.Events(), d.Items())
	if os.Getenv("HEED_SPLIT") == "test" {
		s = eval.TestSplit(d.Events(), d.Items())
	}
	ctx := context.Background()
	b, err := eval.NewBaselines(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	p2, p3 := eval.P2Cases(s), eval.P3Cases(s)
	for name, r := range map[string]eval.Ranker{"knn": b.ItemKNN(), "bt": b.BoughtTogether()} {
		m2, _ := eval.Evaluate(ctx, s, p2, r)
		m3, _ := eval.Evaluate(ctx, s, p3, r)
		t.Logf("%s %s P2 %.4f P3 %.4f", s.Name, name, m2.NDCG10, m3.NDCG10)
	}
}
