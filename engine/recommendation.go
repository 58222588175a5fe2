package engine

import "time"

// A Strategy names one kind of recommendation list.
type Strategy string

const (
	StrategyForYou        Strategy = "for_you"       // a blend of the others, for this shopper
	StrategySimilar       Strategy = "similar"       // like the context item
	StrategyComplementary Strategy = "complementary" // bought with the context item
	StrategyRegion        Strategy = "region"        // popular in the shopper's region
	StrategyNewArrivals   Strategy = "new_arrivals"  // new and upcoming, matched to the shopper's interests
	StrategyBuyAgain      Strategy = "buy_again"     // repeat purchases, where repeating is common
)

// Strategies lists every strategy.
var Strategies = []Strategy{StrategyForYou, StrategySimilar, StrategyComplementary, StrategyRegion, StrategyNewArrivals, StrategyBuyAgain}

func (s Strategy) Valid() bool { return valid(s, Strategies) }

// A RecRequest asks a Recommender for one list. Everything personal in it is
// already filtered to what the policy allows for this request.
type RecRequest struct {
	Strategy Strategy
	// Personalized false asks for the non-personalized fallback: global
	// popularity and the context item only; History, Region and Interests
	// are then empty.
	Personalized bool
	// History is the shopper's events whose signals are allowed now, oldest
	// first. The shopper's taste is computed from it at request time.
	History []Event
	// Region is the shopper's region, only when the region signal is allowed.
	Region string
	// Interests are the shopper's interest tags ("category:shoes") with the
	// deleted ones removed; Blocked lists the deleted ones, which are never
	// matched and never named in a reason.
	Interests []InterestTag
	Blocked   []string
	Item      ItemID // the context item (similar, complementary)
	// AvailableIn, if set, keeps only items sold in that region.
	AvailableIn string
	Limit       int
	Now         time.Time
}

// A Recommended item is one entry of a list, best first, with short reasons
// such as "bought_with:sku-1", "similar_to:sku-2", "popular_in_region:310000".
type Recommended struct {
	Item    ItemID   `json:"item_id"`
	Score   float64  `json:"score"`
	Reasons []string `json:"reasons"`
}

// A Recommender makes lists from a trained model and the live catalog;
// cmd/heed passes one built on package recommend. Safe for concurrent use.
type Recommender interface {
	Recommend(req RecRequest) []Recommended
	// PutItems updates the live catalog after items were stored.
	PutItems(items ...Item)
}
