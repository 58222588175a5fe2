package eval

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"

	"heed/engine"
)

// Baselines are the simple systems of the reference table, trained on a
// split's Train part:
//
//   - popularity: items by the number of distinct customers who bought them;
//   - popularity in the customer's country: the same among customers whose
//     purchases shipped to the query's Region (P2 only);
//   - item-kNN: cosine similarity of items over customers (binary
//     customer × item matrix); P2 scores an item by the sum of its
//     similarities to the customer's training items, P3 by its similarity to
//     the query item;
//   - bought together: the same with baskets (invoices) instead of
//     customers.
type Baselines struct {
	ids     []engine.ItemID
	pos     map[engine.ItemID]int32
	pop     []float64
	country map[string][]float64
	knn, bt []float32 // n×n cosine matrices, zero diagonal
	ordered []int32   // items by popularity, best first (ties by id)
}

// NewBaselines trains the baselines on s.Train. It checks ctx between steps.
func NewBaselines(ctx context.Context, s *Split) (*Baselines, error) {
	n := len(s.Items)
	b := &Baselines{
		ids:     make([]engine.ItemID, n),
		pos:     make(map[engine.ItemID]int32, n),
		pop:     make([]float64, n),
		country: make(map[string][]float64),
	}
	for i, it := range s.Items {
		b.ids[i] = it.ID
		b.pos[it.ID] = int32(i)
	}
	users := make(map[engine.UserID][]int32)
	userCountry := make(map[engine.UserID]map[string]bool)
	var baskets [][]int32
	for _, e := range s.Train {
		var basket []int32
		for _, l := range e.Items {
			i, ok := b.pos[l.Item]
			if !ok {
				continue
			}
			if !slices.Contains(basket, i) {
				basket = append(basket, i)
			}
		}
		baskets = append(baskets, basket)
		users[e.User] = append(users[e.User], basket...)
		if userCountry[e.User] == nil {
			userCountry[e.User] = make(map[string]bool)
		}
		userCountry[e.User][e.Region] = true
	}
	var customers [][]int32
	for u, items := range users {
		slices.Sort(items)
		items = slices.Compact(items)
		customers = append(customers, items)
		for _, i := range items {
			b.pop[i]++
		}
		for c := range userCountry[u] {
			p := b.country[c]
			if p == nil {
				p = make([]float64, n)
				b.country[c] = p
			}
			for _, i := range items {
				p[i]++
			}
		}
	}
	b.ordered = make([]int32, n)
	for i := range b.ordered {
		b.ordered[i] = int32(i)
	}
	slices.SortStableFunc(b.ordered, func(x, y int32) int { return cmp.Compare(b.pop[y], b.pop[x]) })
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.knn = cosine(n, customers)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.bt = cosine(n, baskets)
	return b, ctx.Err()
}

// cosine returns the n×n cosine similarity of items over the binary sets
// (each a list of distinct items), with a zero diagonal.
func cosine(n int, sets [][]int32) []float32 {
	co := make([]float32, n*n)
	count := make([]float32, n)
	for _, s := range sets {
		for _, i := range s {
			count[i]++
			row := co[int(i)*n : int(i+1)*n]
			for _, j := range s {
				row[j]++
			}
		}
	}
	norm := make([]float32, n)
	for i, c := range count {
		if c > 0 {
			norm[i] = float32(1 / math.Sqrt(float64(c)))
		}
	}
	for i := range n {
		row := co[i*n : (i+1)*n]
		for j := range row {
			row[j] *= norm[i] * norm[j]
		}
		row[i] = 0
	}
	return co
}

// Popularity ranks by the number of customers who bought an item.
func (b *Baselines) Popularity() Ranker {
	return RankFunc(func(q Query, n int) []engine.ItemID { return b.top(b.pop, q, n) })
}

// CountryPopularity ranks by popularity among the customers of q.Region,
// then overall.
func (b *Baselines) CountryPopularity() Ranker {
	return RankFunc(func(q Query, n int) []engine.ItemID {
		p := b.country[q.Region]
		if p == nil {
			return b.top(b.pop, q, n)
		}
		score := make([]float64, len(p))
		for i := range p {
			score[i] = p[i] + b.pop[i]*1e-6
		}
		return b.top(score, q, n)
	})
}

// ItemKNN ranks by cosine similarity over customers.
func (b *Baselines) ItemKNN() Ranker { return b.neighbors(b.knn) }

// BoughtTogether ranks by cosine similarity over baskets.
func (b *Baselines) BoughtTogether() Ranker { return b.neighbors(b.bt) }

// neighbors scores by similarity to the query item (P3) or the sum of
// similarities to the history's items (P2); ties go to the more popular.
func (b *Baselines) neighbors(sim []float32) Ranker {
	n := len(b.ids)
	pool := sync.Pool{New: func() any { s := make([]float64, n); return &s }}
	return RankFunc(func(q Query, k int) []engine.ItemID {
		sp := pool.Get().(*[]float64)
		defer pool.Put(sp)
		score := *sp
		for i := range score {
			score[i] = b.pop[i] * 1e-9
		}
		add := func(i int32) {
			row := sim[int(i)*n : int(i+1)*n]
			for j, v := range row {
				score[j] += float64(v)
			}
		}
		if q.Item != "" {
			if i, ok := b.pos[q.Item]; ok {
				add(i)
			}
		} else {
			seen := make(map[int32]bool)
			for _, e := range q.History {
				for _, l := range e.Items {
					if i, ok := b.pos[l.Item]; ok && !seen[i] {
						seen[i] = true
						add(i)
					}
				}
			}
		}
		return b.top(score, q, k)
	})
}

// top returns the k best-scored items that q does not exclude; ties by
// popularity order.
func (b *Baselines) top(score []float64, q Query, k int) []engine.ItemID {
	best := make([]int32, 0, k+1)
	for _, i := range b.ordered {
		if len(best) == k && score[i] <= score[best[k-1]] {
			continue
		}
		if q.Exclude != nil && q.Exclude(b.ids[i]) {
			continue
		}
		// Insert after the items scored at least as high: stable by popularity.
		at, _ := slices.BinarySearchFunc(best, score[i], func(x int32, s float64) int {
			if score[x] >= s {
				return -1
			}
			return 1
		})
		best = slices.Insert(best, at, i)
		if len(best) > k {
			best = best[:k]
		}
	}
	out := make([]engine.ItemID, len(best))
	for x, i := range best {
		out[x] = b.ids[i]
	}
	return out
}
