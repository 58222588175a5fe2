package recommend

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// buildNeighbors computes, for every item, its similar items (cosine on
// customers, nudged by the cosine of the item factors) and its
// complementary items: an asymmetric cosine on baskets,
// co(i,j) / (n(i)^(1−β) · n(j)^β), plus CustomerMix times the same measure
// on customers. β > ½ damps best-sellers, so an item bought with everything
// does not top every list.
func (m *Model) buildNeighbors(ctx context.Context, d *data) error {
	ni := len(m.ids)
	o := m.opts
	beta := o.ComplementBeta
	// Customers that count: not wholesale-sized.
	// Each customer and basket weighs 1/size^SizeDamping; baskets also
	// decay with age.
	keep := make([]bool, len(d.userPtr)-1)
	uW := make([]float64, len(keep))
	for u := range keep {
		n := int(d.userPtr[u+1] - d.userPtr[u])
		keep[u] = n <= o.MaxUserItems
		uW[u] = math.Pow(float64(max(1, n)), -o.SizeDamping)
	}
	bW := make([]float64, len(d.baskets))
	for b, bk := range d.baskets {
		bW[b] = d.bWeight[b] * math.Pow(float64(max(1, len(bk))), -o.SizeDamping)
	}
	nC := make([]float64, ni)
	for i := range ni {
		for _, u := range d.itemUser[d.itemPtr[i]:d.itemPtr[i+1]] {
			if keep[u] {
				nC[i] += uW[u]
			}
		}
	}
	// Baskets that count, by item.
	nB := make([]float64, ni)
	bPtr := make([]int32, ni+1)
	for b, bk := range d.baskets {
		if len(bk) <= o.MaxBasket {
			for _, i := range bk {
				bPtr[i+1]++
				nB[i] += bW[b]
			}
		}
	}
	for i := range ni {
		bPtr[i+1] += bPtr[i]
	}
	bOf := make([]int32, bPtr[ni])
	next := slices.Clone(bPtr[:ni])
	for b, bk := range d.baskets {
		if len(bk) <= o.MaxBasket {
			for _, i := range bk {
				bOf[next[i]] = int32(b)
				next[i]++
			}
		}
	}

	powC, powB := make([]float64, ni), make([]float64, ni)   // n^β
	powC1, powB1 := make([]float64, ni), make([]float64, ni) // n^(1−β)
	for i := range ni {
		powC[i], powC1[i] = math.Pow(nC[i], beta), math.Pow(nC[i], 1-beta)
		powB[i], powB1[i] = math.Pow(nB[i], beta), math.Pow(nB[i], 1-beta)
	}
	K := o.Neighbors
	simL := make([][]cand, ni)
	compL := make([][]cand, ni)
	var nextItem atomic.Int64
	var wg sync.WaitGroup
	for range max(1, o.Workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			accC := make([]float64, ni)
			accB := make([]float64, ni)
			seen := make([]bool, ni)
			var touched []int32
			var buf []cand
			for ctx.Err() == nil {
				i := int32(nextItem.Add(1) - 1)
				if int(i) >= ni {
					return
				}
				touched = touched[:0]
				touch := func(j int32) {
					if !seen[j] {
						seen[j] = true
						touched = append(touched, j)
					}
				}
				for _, u := range d.itemUser[d.itemPtr[i]:d.itemPtr[i+1]] {
					if !keep[u] {
						continue
					}
					for _, j := range d.userItem[d.userPtr[u]:d.userPtr[u+1]] {
						accC[j] += uW[u]
						touch(j)
					}
				}
				for _, b := range bOf[bPtr[i]:bPtr[i+1]] {
					for _, j := range d.baskets[b] {
						accB[j] += bW[b]
						touch(j)
					}
				}
				// Similar.
				buf = buf[:0]
				for _, j := range touched {
					if j == i || accC[j] == 0 {
						continue
					}
					s := accC[j] / math.Sqrt(nC[i]*nC[j])
					if m.norm[i] > 0 && m.norm[j] > 0 {
						s += 0.1 * max(0, dot(m.row(i), m.row(j))/(m.norm[i]*m.norm[j]))
					}
					buf = append(buf, cand{j, s})
				}
				simL[i] = topCands(buf, K)
				// Complementary.
				buf = buf[:0]
				for _, j := range touched {
					if j == i {
						continue
					}
					s := 0.0
					if accB[j] > 0 {
						s += accB[j] / (powB1[i] * powB[j])
					}
					if accC[j] > 0 && o.CustomerMix > 0 {
						s += o.CustomerMix * accC[j] / (powC1[i] * powC[j])
					}
					if s > 0 {
						buf = append(buf, cand{j, s})
					}
				}
				compL[i] = topCands(buf, K)
				for _, j := range touched {
					accC[j], accB[j], seen[j] = 0, 0, false
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	m.similar = toNeighbors(simL)
	m.complement = toNeighbors(compL)
	return nil
}

// A cand is a scored item index.
type cand struct {
	i int32
	s float64
}

// byScore orders cands best first, ties by index (indexes follow the order
// items were first seen, so ties are deterministic).
func byScore(a, b cand) int {
	switch {
	case a.s > b.s:
		return -1
	case a.s < b.s:
		return 1
	case a.s != b.s: // a NaN: as cmp.Compare orders them
		if c := cmp.Compare(b.s, a.s); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.i, b.i)
}

// topCands returns the k best of c, best first; it reorders c.
func topCands(c []cand, k int) []cand {
	if len(c) > 4*k {
		// Keep a min-heap of the k best, then sort those.
		t := topK{k: k, h: make([]cand, 0, k)}
		for _, x := range c {
			t.push(x)
		}
		c = t.h
	}
	slices.SortFunc(c, byScore)
	return slices.Clone(c[:min(k, len(c))])
}

func toNeighbors(l [][]cand) neighbors {
	n := neighbors{Off: make([]int32, len(l)+1)}
	for i, c := range l {
		n.Off[i+1] = n.Off[i] + int32(len(c))
		for _, x := range c {
			n.Item = append(n.Item, x.i)
			n.Score = append(n.Score, float32(x.s))
		}
	}
	return n
}
