package recommend

import (
	"time"

	"heed/engine"
)

// Options configure Train. The zero value of a field means its default, as
// given by DefaultOptions, unless said otherwise.
type Options struct {
	// Factors is the number of latent factors (64).
	Factors int
	// Iterations is the number of ALS sweeps (users then items) (12).
	Iterations int
	// Lambda is the L2 regularization of the ALS solves.
	Lambda float64
	// Alpha scales confidence: c = 1 + Alpha·log(1 + r), where r is the
	// time-decayed sum of the event weights of a (user, item) pair. Quantities
	// are ignored: a purchase line counts once.
	Alpha float64
	// Weights gives each event type's weight in r; purchase > favorite > cart
	// > view. An unfavorite cancels earlier favorites of the same item;
	// search, and store visits without an item, carry no item interaction.
	Weights map[engine.EventType]float64
	// HalfLife is the decay of an event's weight with age in training; zero
	// or negative: no decay.
	HalfLife time.Duration
	// Now is the reference time of the decay; zero: the newest event.
	Now time.Time
	// Seed seeds the initial factors; training is deterministic for a given
	// input, Seed and Factors, whatever Workers is.
	Seed uint64
	// Workers is the number of goroutines of the parallel steps; 0: GOMAXPROCS.
	Workers int
	// Progress, if set, is called after each iteration.
	Progress func(iteration, of int, took time.Duration)

	// Neighbors is the number of similar and complementary items kept per
	// item (50).
	Neighbors int
	// ComplementBeta is the popularity damping of complementary items:
	// score(i→j) = co(i,j) / (n(i)^(1-β) · n(j)^β), an asymmetric cosine;
	// 0.5 is the cosine, higher values push best-sellers down.
	ComplementBeta float64
	// CustomerMix weighs co-occurrence on customers against co-occurrence in
	// baskets in the complementary score; negative: baskets only.
	CustomerMix float64
	// MaxBasket and MaxUserItems bound the co-occurrence work of one basket
	// and one customer (wholesale baskets add noise and quadratic cost).
	MaxBasket, MaxUserItems int
	// SizeDamping weighs each basket and customer by 1/size^SizeDamping in
	// the co-occurrences (0: no damping). Baskets also decay by HalfLife.
	SizeDamping float64
	// Blend weighs the parts of for_you; it is kept with the Model.
	Blend Blend
	// ExactScoringMax is the catalog size up to which for_you scores every
	// item with the folded-in vector; above it, only candidates (neighbours
	// of the history, popular and new items) are scored (2,000: on Online
	// Retail's 3.7k items candidates give the same P2 NDCG@10, 0.1004, at
	// about 60% of the CPU). Negative: always exact.
	ExactScoringMax int
}

// Blend weighs the parts of a for_you score; each part is scaled to [0, 1]
// over the candidates first.
type Blend struct {
	ALS        float64 // fold-in ALS score
	Similar    float64 // item-kNN from the history
	BoughtWith float64 // complementary items of recent purchases and carts
	Region     float64 // popularity in the shopper's region
	Popular    float64 // global popularity
	Interest   float64 // interest tags, browsed categories, searches
	NewArrival float64 // new or upcoming items that match the shopper
	// HalfLife is the decay of history events at request time; zero: none.
	HalfLife time.Duration
	// NewFor and UpcomingFor are how long after and before its LaunchAt an
	// item counts as a new arrival or an upcoming launch (zero: default).
	NewFor, UpcomingFor time.Duration
}

// DefaultOptions returns the defaults, chosen on a validation month carved
// from the training part of the Online Retail data.
func DefaultOptions() Options {
	return Options{
		Factors:    64,
		Iterations: 12,
		Lambda:     0.1,
		Alpha:      10,
		Weights: map[engine.EventType]float64{
			engine.EventPurchase:   1,
			engine.EventFavorite:   0.6,
			engine.EventCart:       0.4,
			engine.EventView:       0.15,
			engine.EventStoreVisit: 0.15,
		},
		HalfLife:        60 * 24 * time.Hour,
		Seed:            1,
		Neighbors:       50,
		ComplementBeta:  0.25,
		CustomerMix:     0.7,
		SizeDamping:     0.3,
		MaxBasket:       200,
		MaxUserItems:    1000,
		ExactScoringMax: 2000,
		Blend: Blend{
			ALS:         1,
			Similar:     0.5,
			BoughtWith:  0.05,
			Region:      0.03,
			Popular:     0.03,
			Interest:    0.3,
			NewArrival:  0.2,
			HalfLife:    7 * 24 * time.Hour,
			NewFor:      60 * 24 * time.Hour,
			UpcomingFor: 90 * 24 * time.Hour,
		},
	}
}

// withDefaults fills the zero fields of o from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Factors <= 0 {
		o.Factors = d.Factors
	}
	if o.Iterations <= 0 {
		o.Iterations = d.Iterations
	}
	if o.Lambda <= 0 {
		o.Lambda = d.Lambda
	}
	if o.Alpha <= 0 {
		o.Alpha = d.Alpha
	}
	if o.Weights == nil {
		o.Weights = d.Weights
	}
	if o.Neighbors <= 0 {
		o.Neighbors = d.Neighbors
	}
	if o.ComplementBeta <= 0 {
		o.ComplementBeta = d.ComplementBeta
	}
	switch {
	case o.CustomerMix == 0:
		o.CustomerMix = d.CustomerMix
	case o.CustomerMix < 0:
		o.CustomerMix = 0
	}
	if o.MaxBasket <= 0 {
		o.MaxBasket = d.MaxBasket
	}
	if o.MaxUserItems <= 0 {
		o.MaxUserItems = d.MaxUserItems
	}
	if o.ExactScoringMax == 0 {
		o.ExactScoringMax = d.ExactScoringMax
	}
	if o.Blend == (Blend{}) {
		o.Blend = d.Blend
	}
	if o.Blend.NewFor <= 0 {
		o.Blend.NewFor = d.Blend.NewFor
	}
	if o.Blend.UpcomingFor <= 0 {
		o.Blend.UpcomingFor = d.Blend.UpcomingFor
	}
	return o
}
