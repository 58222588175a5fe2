package recommend

import (
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"heed/engine"
)

// A Catalog is the live catalog the recommender filters and matches against:
// whatever Train saw, only items in the Catalog are ever returned. It is safe
// for concurrent use.
type Catalog struct {
	mu    sync.RWMutex
	items map[engine.ItemID]engine.Item // guarded by mu
	// byLaunch lists the items with a launch time, oldest first; byID every
	// item by id. Both are rebuilt on demand after a Put; guarded by mu.
	byLaunch []engine.Item
	byID     []engine.ItemID
	stale    bool
}

// NewCatalog returns an empty Catalog.
func NewCatalog() *Catalog {
	return &Catalog{items: make(map[engine.ItemID]engine.Item)}
}

// Put adds or replaces items.
func (c *Catalog) Put(items ...engine.Item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range items {
		c.items[it.ID] = it
	}
	c.stale = true
}

// Get returns the item with the id.
func (c *Catalog) Get(id engine.ItemID) (engine.Item, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	it, ok := c.items[id]
	return it, ok
}

// Len returns the number of items.
func (c *Catalog) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.items)
}

// lookup calls f for each id under one read lock, with the item if known,
// until f returns false.
func (c *Catalog) lookup(ids []engine.ItemID, f func(i int, it engine.Item, ok bool) bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, id := range ids {
		it, ok := c.items[id]
		if !f(i, it, ok) {
			return
		}
	}
}

// indexes returns the launch and id indexes, rebuilding them if stale. The
// slices returned are never modified afterwards.
func (c *Catalog) indexes() (byLaunch []engine.Item, byID []engine.ItemID) {
	c.mu.RLock()
	if !c.stale {
		defer c.mu.RUnlock()
		return c.byLaunch, c.byID
	}
	c.mu.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stale {
		launch := make([]engine.Item, 0)
		ids := make([]engine.ItemID, 0, len(c.items))
		for id, it := range c.items {
			ids = append(ids, id)
			if !it.LaunchAt.IsZero() {
				launch = append(launch, it)
			}
		}
		slices.Sort(ids)
		slices.SortFunc(launch, func(a, b engine.Item) int {
			if n := a.LaunchAt.Compare(b.LaunchAt); n != 0 {
				return n
			}
			return strings.Compare(string(a.ID), string(b.ID))
		})
		c.byLaunch, c.byID, c.stale = launch, ids, false
	}
	return c.byLaunch, c.byID
}

// launchedBetween returns the items launching in [from, to], newest first.
// The slice is shared: callers must not modify it.
func (c *Catalog) launchedBetween(from, to time.Time) iter.Seq[engine.Item] {
	launch, _ := c.indexes()
	lo, _ := slices.BinarySearchFunc(launch, from, func(it engine.Item, t time.Time) int { return it.LaunchAt.Compare(t) })
	hi, _ := slices.BinarySearchFunc(launch, to, func(it engine.Item, t time.Time) int {
		if it.LaunchAt.After(t) {
			return 1
		}
		return -1
	})
	return func(yield func(engine.Item) bool) {
		for j := hi - 1; j >= lo; j-- {
			if !yield(launch[j]) {
				return
			}
		}
	}
}

// availableIn reports whether an item is sold in region ("" matches all).
func availableIn(it engine.Item, region string) bool {
	return region == "" || len(it.Regions) == 0 || slices.Contains(it.Regions, region)
}
