package recommend

import (
	"maps"
	"slices"
	"time"

	"heed/engine"
)

// A Model is a trained recommender: item factors, item neighbours,
// popularity and repeat-purchase rates. It holds no user factors; a shopper's
// vector is folded in from the request's History. A Model is immutable and
// safe for concurrent use.
type Model struct {
	opts  Options // as trained, with defaults; Progress is nil
	k     int
	ids   []engine.ItemID
	index map[engine.ItemID]int32
	y     []float64 // item factors, len(ids)×k, row-major
	gram  []float64 // YᵀY, k×k, upper triangle used
	norm  []float64 // |y_i|

	pop     []float64         // global popularity, best = 1
	popular []int32           // items by popularity, best first, ties by id (at most maxRanked)
	regions map[string]ranked // per region, best first, ties by id

	similar    neighbors // cosine on customers, nudged by factor cosine
	complement neighbors // asymmetric cosine on baskets and customers
	repeat     []float64 // share of buyers who bought again

	users []engine.UserID // sorted; whose events were training input
	stats Stats
	// historyMax is the catalog size up to which for_you draws candidates
	// from the whole history (wholeHistoryMax; tests lower it).
	historyMax int

	pools // per-request scratch space
}

// maxRanked bounds the popularity lists kept per region and globally.
const maxRanked = 1000

// ranked is a list of items, best first (ties by id: region lists them in
// this order), with scores scaled to best = 1.
type ranked struct {
	Items  []int32
	Scores []float64
}

// neighbors holds, per item, its neighbours best first in CSR form.
type neighbors struct {
	Off   []int32 // item i's neighbours are Item[Off[i]:Off[i+1]]
	Item  []int32
	Score []float32
}

func (n *neighbors) of(i int32) ([]int32, []float32) {
	if n.Off == nil || int(i)+1 >= len(n.Off) {
		return nil, nil
	}
	lo, hi := n.Off[i], n.Off[i+1]
	return n.Item[lo:hi], n.Score[lo:hi]
}

// Stats describe a training run.
type Stats struct {
	Users        int // users with at least one event
	Items        int // items known to the model
	Events       int // events read
	Interactions int // distinct (user, item) pairs with a positive weight
	Baskets      int // purchase orders
	Factors      int
	Iterations   int
	PerIteration time.Duration // mean wall time of one ALS sweep
	Took         time.Duration // whole training, reading included
	TrainedAt    time.Time     // when training finished
	DecayRef     time.Time     // the reference time of the decay
}

// Stats returns the figures of the training run.
func (m *Model) Stats() Stats { return m.stats }

// TrainedOn reports whether any of u's events was a training input.
func (m *Model) TrainedOn(u engine.UserID) bool {
	_, ok := slices.BinarySearch(m.users, u)
	return ok
}

// Options returns the options the model was trained with (Progress unset).
func (m *Model) Options() Options {
	o := m.opts
	o.Weights = maps.Clone(o.Weights)
	return o
}

func (m *Model) row(i int32) []float64 {
	return m.y[int(i)*m.k : int(i+1)*m.k]
}
