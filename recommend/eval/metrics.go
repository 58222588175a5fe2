package eval

import (
	"math"

	"heed/engine"
)

// Metrics are the figures of one system on one protocol, means over the
// cases.
type Metrics struct {
	Cases int
	// HR10 is the share of cases with at least one target in the top 10.
	HR10 float64
	// NDCG10 is NDCG@10 with binary gains and the ideal DCG over
	// min(targets, 10).
	NDCG10 float64
	// Recall20 is the mean share of a case's targets in its top 20.
	Recall20 float64
	// Coverage is the share of the catalog that appears in any top 10.
	Coverage float64
}

// caseMetrics returns HR@10, NDCG@10 and Recall@20 of one ranking.
func caseMetrics(ranked []engine.ItemID, targets []engine.ItemID) (hr, ndcg, recall float64) {
	if len(targets) == 0 {
		return 0, 0, 0
	}
	hits20 := 0
	var dcg float64
	for i, id := range ranked {
		if i >= 20 {
			break
		}
		if !contains(targets, id) {
			continue
		}
		hits20++
		if i < 10 {
			hr = 1
			dcg += 1 / math.Log2(float64(i)+2)
		}
	}
	var idcg float64
	for i := range min(len(targets), 10) {
		idcg += 1 / math.Log2(float64(i)+2)
	}
	return hr, dcg / idcg, float64(hits20) / float64(len(targets))
}

func contains(ids []engine.ItemID, id engine.ItemID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
