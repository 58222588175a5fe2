package recommend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestFoldInMatchesSolve checks that the request-time fold-in solves the
// same equations as training's solve, on either side of foldInRows.
func TestFoldInMatchesSolve(t *testing.T) {
	const k, n = 16, 500
	r := rand.New(rand.NewPCG(1, 2))
	y := make([]float64, n*k)
	for i := range y {
		y[i] = r.NormFloat64() * 0.3
	}
	gram := make([]float64, k*k)
	gramOf(gram, y, n, k)
	for _, m := range []int{1, foldInRows - 1, foldInRows, 3 * foldInRows} {
		t.Run(fmt.Sprint(m), func(t *testing.T) {
			idx, conf := make([]int32, m), make([]float64, m)
			for j := range idx {
				idx[j], conf[j] = int32(r.IntN(n)), 1+10*r.Float64()
			}
			want, got := make([]float64, k), make([]float64, k)
			newSolver(k).solve(want, gram, 0.1, y, idx, conf)
			newSolver(k).foldIn(got, gram, 0.1, y, idx, conf)
			for f := range want {
				if d := math.Abs(got[f] - want[f]); d > 1e-9*(1+math.Abs(want[f])) {
					t.Errorf("x[%d] = %g, want %g", f, got[f], want[f])
				}
			}
		})
	}
}
