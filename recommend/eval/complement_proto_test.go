package eval

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"heed/data/onlineretail"
	"heed/engine"
)

// proto2 is a prototype complementary measure for P3, kept to measure
// ideas for package recommend without touching it: an asymmetric cosine on
// baskets, co(i,j) / (n(i)^(1−β) · n(j)^β), plus mix times the same on
// customers, optionally weighted by the distance of the lines in the basket
// (delta) and plus a TF-IDF title similarity (wt). Rows are computed on
// demand from inverted indexes.
type proto2 struct {
	n        int
	pos      map[engine.ItemID]int32
	ids      []engine.ItemID
	baskets  [][]int32 // distinct items, in line order
	itemB    [][]int32
	users    [][]int32
	itemU    [][]int32
	nB, nC   []float64
	pop      []float64
	tok      [][]int32 // title tokens, sorted
	tokW     [][]float64
	tokNorm  []float64
	tokItems [][]int32
}

func newProto2(s *Split) *proto2 {
	p := &proto2{n: len(s.Items), pos: map[engine.ItemID]int32{}}
	for i, it := range s.Items {
		p.pos[it.ID] = int32(i)
		p.ids = append(p.ids, it.ID)
	}
	p.itemB, p.itemU = make([][]int32, p.n), make([][]int32, p.n)
	p.nB, p.nC, p.pop = make([]float64, p.n), make([]float64, p.n), make([]float64, p.n)
	umap := map[engine.UserID]int{}
	for _, e := range s.Train {
		var b []int32
		for _, l := range e.Items {
			if i, ok := p.pos[l.Item]; ok && !slices.Contains(b, i) {
				b = append(b, i)
			}
		}
		for _, i := range b {
			p.itemB[i] = append(p.itemB[i], int32(len(p.baskets)))
			p.nB[i]++
		}
		p.baskets = append(p.baskets, b)
		u, ok := umap[e.User]
		if !ok {
			u = len(p.users)
			umap[e.User] = u
			p.users = append(p.users, nil)
		}
		p.users[u] = append(p.users[u], b...)
	}
	for u, items := range p.users {
		slices.Sort(items)
		items = slices.Compact(items)
		p.users[u] = items
		for _, i := range items {
			p.itemU[i] = append(p.itemU[i], int32(u))
			p.nC[i]++
			p.pop[i]++
		}
	}
	// Title tokens with idf weights.
	vocab := map[string]int32{}
	df := []float64{}
	p.tok = make([][]int32, p.n)
	for i, it := range s.Items {
		for _, w := range strings.FieldsFunc(strings.ToLower(it.Title), func(r rune) bool { return r < 'a' || r > 'z' }) {
			if len(w) < 3 {
				continue
			}
			t, ok := vocab[w]
			if !ok {
				t = int32(len(df))
				vocab[w] = t
				df = append(df, 0)
			}
			if !slices.Contains(p.tok[i], t) {
				p.tok[i] = append(p.tok[i], t)
				df[t]++
			}
		}
	}
	p.tokItems = make([][]int32, len(df))
	p.tokW = make([][]float64, p.n)
	p.tokNorm = make([]float64, p.n)
	for i, ts := range p.tok {
		for _, t := range ts {
			w := math.Log(float64(p.n) / df[t])
			p.tokW[i] = append(p.tokW[i], w)
			p.tokNorm[i] += w * w
			p.tokItems[t] = append(p.tokItems[t], int32(i))
		}
		p.tokNorm[i] = math.Sqrt(p.tokNorm[i])
	}
	return p
}

type p2opts struct {
	beta, mix, delta, wt float64
	forward              bool
}

func (p *proto2) ranker(o p2opts) Ranker {
	return RankFunc(func(q Query, k int) []engine.ItemID {
		i, ok := p.pos[q.Item]
		if !ok {
			return nil
		}
		accB, accC, accT := make([]float64, p.n), make([]float64, p.n), make([]float64, p.n)
		for _, b := range p.itemB[i] {
			bk := p.baskets[b]
			pi := slices.Index(bk, i)
			for pj, j := range bk {
				d := pj - pi
				if d == 0 || (o.forward && d < 0) {
					continue
				}
				accB[j] += math.Pow(math.Abs(float64(d)), -o.delta)
			}
		}
		if o.mix > 0 {
			for _, u := range p.itemU[i] {
				for _, j := range p.users[u] {
					accC[j]++
				}
			}
		}
		if o.wt > 0 {
			for x, t := range p.tok[i] {
				for _, j := range p.tokItems[t] {
					for y, t2 := range p.tok[j] {
						if t2 == t {
							accT[j] += p.tokW[i][x] * p.tokW[j][y]
						}
					}
				}
			}
		}
		score := make([]float64, p.n)
		for j := range p.n {
			s := p.pop[j] * 1e-9
			if accB[j] > 0 {
				s += accB[j] / (math.Pow(p.nB[i], 1-o.beta) * math.Pow(p.nB[j], o.beta))
			}
			if accC[j] > 0 {
				s += o.mix * accC[j] / (math.Pow(p.nC[i], 1-o.beta) * math.Pow(p.nC[j], o.beta))
			}
			if accT[j] > 0 && p.tokNorm[i] > 0 && p.tokNorm[j] > 0 {
				s += o.wt * accT[j] / (p.tokNorm[i] * p.tokNorm[j])
			}
			score[j] = s
		}
		score[i] = -1
		idx := make([]int32, p.n)
		for j := range idx {
			idx[j] = int32(j)
		}
		slices.SortFunc(idx, func(a, b int32) int {
			if score[a] > score[b] {
				return -1
			}
			if score[a] < score[b] {
				return 1
			}
			return int(a - b)
		})
		out := make([]engine.ItemID, 0, k)
		for _, j := range idx[:k] {
			out = append(out, p.ids[j])
		}
		return out
	})
}

// TestComplementPrototype prints the prototype's P3 figures on the
// validation and test splits: HEED_EVAL_PROTO=1 runs it (about a minute),
// HEED_EVAL_PROTO_GRID=beta scans β and mix only.
func TestComplementPrototype(t *testing.T) {
	if os.Getenv("HEED_EVAL_PROTO") == "" {
		t.Skip("set HEED_EVAL_PROTO=1 to run the prototype scan")
	}
	d, err := onlineretail.Load()
	if err != nil {
		t.Fatal(err)
	}
	evs, items := d.Events(), d.Items()
	ctx := context.Background()
	grid := []p2opts{
		{beta: 0.5}, {beta: 0.4}, {beta: 0.3}, {beta: 0.5, mix: 1}, {beta: 0.4, mix: 1},
		{beta: 0.5, delta: 0.5}, {beta: 0.5, delta: 1}, {beta: 0.5, delta: 0.5, forward: true},
		{beta: 0.5, mix: 1, delta: 0.5}, {beta: 0.5, mix: 1, delta: 1},
		{beta: 0.5, wt: 0.05}, {beta: 0.5, wt: 0.1}, {beta: 0.5, wt: 0.2},
		{beta: 0.5, mix: 1, delta: 0.5, wt: 0.1},
	}
	if g := os.Getenv("HEED_EVAL_PROTO_GRID"); g == "beta" {
		grid = nil
		for _, b := range []float64{0, 0.1, 0.2, 0.3} {
			for _, m := range []float64{0, 0.5, 1, 2} {
				grid = append(grid, p2opts{beta: b, mix: m})
			}
		}
	}
	for _, s := range []*Split{ValidationSplit(evs, items), TestSplit(evs, items)} {
		p := newProto2(s)
		cases := P3Cases(s)
		for _, o := range grid {
			m, err := Evaluate(ctx, s, cases, p.ranker(o))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Printf("%s %+v: HR %.3f NDCG %.4f R20 %.3f cov %.3f\n", s.Name, o, m.HR10, m.NDCG10, m.Recall20, m.Coverage)
		}
	}
}
