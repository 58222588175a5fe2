package eval

import (
	"slices"
	"time"

	"heed/engine"
)

// The dates of the protocols, midnight in Europe/London (which is UTC in
// October and November).
var (
	// TestCutoff starts the test period of P2 and P3.
	TestCutoff = time.Date(2011, 11, 9, 0, 0, 0, 0, time.UTC)
	// ValidationCutoff starts the validation period, the last month before
	// TestCutoff; Tune trains before it and scores on it.
	ValidationCutoff = time.Date(2011, 10, 9, 0, 0, 0, 0, time.UTC)
)

// A Split divides the purchases in time: the systems train on Train and are
// scored on Test.
type Split struct {
	Name   string    // "test", "validation"
	Cutoff time.Time // Train is before it, Test at or after it
	End    time.Time // Test is before it; zero: no end
	// Train and Test are the purchase events, oldest first.
	Train, Test []engine.Event
	// Items is the catalog: every item launched before End (all items if
	// End is zero). Ranking is over it.
	Items []engine.Item
}

// NewSplit splits events (purchases, any order) at cutoff; events at or
// after end are dropped unless end is zero. Items launched at or after end
// are left out of the catalog, so a validation split never learns of the
// test period's new products.
func NewSplit(name string, events []engine.Event, items []engine.Item, cutoff, end time.Time) *Split {
	s := &Split{Name: name, Cutoff: cutoff, End: end}
	for _, e := range events {
		switch {
		case e.Type != engine.EventPurchase:
		case e.OccurredAt.Before(cutoff):
			s.Train = append(s.Train, e)
		case end.IsZero() || e.OccurredAt.Before(end):
			s.Test = append(s.Test, e)
		}
	}
	byTime := func(a, b engine.Event) int { return a.OccurredAt.Compare(b.OccurredAt) }
	slices.SortStableFunc(s.Train, byTime)
	slices.SortStableFunc(s.Test, byTime)
	for _, it := range items {
		if end.IsZero() || it.LaunchAt.IsZero() || it.LaunchAt.Before(end) {
			s.Items = append(s.Items, it)
		}
	}
	return s
}

// TestSplit is the split of the reference figures: train before
// TestCutoff, test on everything after.
func TestSplit(events []engine.Event, items []engine.Item) *Split {
	return NewSplit("test", events, items, TestCutoff, time.Time{})
}

// ValidationSplit is the split Tune uses: train before ValidationCutoff,
// validate on ValidationCutoff..TestCutoff. It holds nothing of the test
// period.
func ValidationSplit(events []engine.Event, items []engine.Item) *Split {
	return NewSplit("validation", events, items, ValidationCutoff, TestCutoff)
}

// A Case is one test case: a query and the items that answer it.
type Case struct {
	User    engine.UserID
	Region  string         // the country of the customer's latest training purchase, else of the case
	History []engine.Event // the customer's training purchases, oldest first
	// Item is P3's query item: the basket's first line. Empty in P2.
	Item engine.ItemID
	// Order is P3's invoice.
	Order string
	// Bought is what the customer bought in training; ranking is over the
	// other items (and, in P3, not the query item).
	Bought map[engine.ItemID]bool
	// Targets are the relevant items, distinct, in order of first purchase.
	Targets []engine.ItemID
}

// Excluded reports whether id is not to be ranked for c.
func (c *Case) Excluded(id engine.ItemID) bool { return c.Bought[id] || id == c.Item }

type customer struct {
	history []engine.Event
	bought  map[engine.ItemID]bool
	region  string
}

func customers(train []engine.Event) map[engine.UserID]*customer {
	cs := make(map[engine.UserID]*customer)
	for _, e := range train {
		c := cs[e.User]
		if c == nil {
			c = &customer{bought: make(map[engine.ItemID]bool)}
			cs[e.User] = c
		}
		c.history = append(c.history, e)
		for _, l := range e.Items {
			c.bought[l.Item] = true
		}
		if e.Region != "" {
			c.region = e.Region
		}
	}
	return cs
}

// P2Cases returns the cases of P2, next month: one per customer with
// training purchases who buys, in the test period, products they never
// bought before; those products are the targets. Customers ordered by
// first test purchase.
func P2Cases(s *Split) []Case {
	cs := customers(s.Train)
	var out []Case
	idx := make(map[engine.UserID]int)
	for _, e := range s.Test {
		c := cs[e.User]
		if c == nil {
			continue
		}
		k, ok := idx[e.User]
		if !ok {
			k = len(out)
			idx[e.User] = k
			out = append(out, Case{User: e.User, Region: c.region, History: c.history, Bought: c.bought})
		}
		for _, l := range e.Items {
			if !c.bought[l.Item] && !slices.Contains(out[k].Targets, l.Item) {
				out[k].Targets = append(out[k].Targets, l.Item)
			}
		}
	}
	return slices.DeleteFunc(out, func(c Case) bool { return len(c.Targets) == 0 })
}

// P3Cases returns the cases of P3, complete the basket: one per test
// invoice with at least two distinct items whose first line is an item sold
// in training; that item is the query, the other items the targets. Bought
// is left empty: in P3 only the query item is excluded, so items the
// customer bought before may be targets.
func P3Cases(s *Split) []Case {
	cs := customers(s.Train)
	sold := make(map[engine.ItemID]bool)
	for _, e := range s.Train {
		for _, l := range e.Items {
			sold[l.Item] = true
		}
	}
	var out []Case
	for _, e := range s.Test {
		if len(e.Items) == 0 || !sold[e.Items[0].Item] {
			continue
		}
		q := e.Items[0].Item
		c := Case{User: e.User, Region: e.Region, Item: q, Order: e.Order}
		if cu := cs[e.User]; cu != nil {
			c.History = cu.history
			if cu.region != "" {
				c.Region = cu.region
			}
		}
		for _, l := range e.Items[1:] {
			if l.Item != q && !slices.Contains(c.Targets, l.Item) {
				c.Targets = append(c.Targets, l.Item)
			}
		}
		if len(c.Targets) > 0 {
			out = append(out, c)
		}
	}
	return out
}
