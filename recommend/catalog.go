package recommend

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"heed/engine"
)

// A Catalog is the live catalog the recommender filters and matches against:
// whatever Train saw, only items in the Catalog are ever returned. It is safe
// for concurrent use.
type Catalog struct {
	mu sync.RWMutex
	// items gives each item's slot in rows. An item keeps its slot for the
	// life of the Catalog (items are replaced, never removed), so a Model
	// can map its item indexes to slots once; guarded by mu.
	items map[engine.ItemID]int32
	rows  []catalogRow
	// added counts the items ever added: a mapping of ids to slots made
	// when it had a value is current while it has the same value. Written
	// under mu.
	added atomic.Int64
	// byLaunch lists the items with a launch time, oldest first; byID every
	// item by id. Both are rebuilt on demand after a Put; guarded by mu.
	byLaunch   []engine.Item
	launchSlot []int32 // the slots of byLaunch
	byID       []engine.ItemID
	stale      bool
}

// A catalogRow is an item with its interest tags, computed once by Put.
type catalogRow struct {
	engine.Item
	interests []string // Item.InterestTags()
}

// NewCatalog returns an empty Catalog.
func NewCatalog() *Catalog {
	return &Catalog{items: make(map[engine.ItemID]int32)}
}

// Put adds or replaces items.
func (c *Catalog) Put(items ...engine.Item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range items {
		r := catalogRow{Item: it, interests: it.InterestTags()}
		if j, ok := c.items[it.ID]; ok {
			c.rows[j] = r
			continue
		}
		c.items[it.ID] = int32(len(c.rows))
		c.rows = append(c.rows, r)
		c.added.Store(int64(len(c.rows)))
	}
	c.stale = true
}

// Get returns the item with the id.
func (c *Catalog) Get(id engine.ItemID) (engine.Item, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if j, ok := c.items[id]; ok {
		return c.rows[j].Item, true
	}
	return engine.Item{}, false
}

// slotOf returns the slot of id, or -1; c.mu must be held.
func (c *Catalog) slotOf(id engine.ItemID) int32 {
	if j, ok := c.items[id]; ok {
		return j
	}
	return -1
}

// slots maps ids to their slots (-1: not in the catalog), and each slot to
// its index in ids (-1: none); it returns the number of items added at the
// time. The slots stay valid while added is unchanged, and those found
// forever.
func (c *Catalog) slots(ids []engine.ItemID) (slot, index []int32, added int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	slot = make([]int32, len(ids))
	index = make([]int32, len(c.rows))
	for k := range index {
		index[k] = -1
	}
	for i, id := range ids {
		slot[i] = c.slotOf(id)
		if slot[i] >= 0 {
			index[slot[i]] = int32(i)
		}
	}
	return slot, index, c.added.Load()
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
		var it engine.Item
		j, ok := c.items[id]
		if ok {
			it = c.rows[j].Item
		}
		if !f(i, it, ok) {
			return
		}
	}
}

// indexes returns the launch and id indexes, rebuilding them if stale. The
// slices returned are never modified afterwards.
func (c *Catalog) indexes() (byLaunch []engine.Item, launchSlot []int32, byID []engine.ItemID) {
	c.mu.RLock()
	if !c.stale {
		defer c.mu.RUnlock()
		return c.byLaunch, c.launchSlot, c.byID
	}
	c.mu.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stale {
		launch := make([]engine.Item, 0)
		ids := make([]engine.ItemID, 0, len(c.items))
		for _, r := range c.rows {
			it := r.Item
			ids = append(ids, it.ID)
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
		slot := make([]int32, len(launch))
		for j, it := range launch {
			slot[j] = c.items[it.ID]
		}
		c.byLaunch, c.launchSlot, c.byID, c.stale = launch, slot, ids, false
	}
	return c.byLaunch, c.launchSlot, c.byID
}

// launchedIn returns the items launching in [from, to], oldest first, with
// their slots. The slices are shared: callers must not modify them.
func (c *Catalog) launchedIn(from, to time.Time) ([]engine.Item, []int32) {
	launch, slot, _ := c.indexes()
	lo, _ := slices.BinarySearchFunc(launch, from, func(it engine.Item, t time.Time) int { return it.LaunchAt.Compare(t) })
	hi, _ := slices.BinarySearchFunc(launch, to, func(it engine.Item, t time.Time) int {
		if it.LaunchAt.After(t) {
			return 1
		}
		return -1
	})
	hi = max(lo, hi)
	return launch[lo:hi], slot[lo:hi]
}

// availableIn reports whether an item is sold in region ("" matches all).
func availableIn(it engine.Item, region string) bool {
	return region == "" || len(it.Regions) == 0 || slices.Contains(it.Regions, region)
}

// A catalogView maps the items of a Model to their slots in one Catalog.
type catalogView struct {
	c     *Catalog
	added int64   // c.added when slot was made
	slot  []int32 // per model item, its slot in c.rows; -1: not in c
	index []int32 // per slot (as many as when made), its model item; -1: none
}

// indexOf returns the model index of the catalog item in slot k.
func (v *catalogView) indexOf(m *Model, k int32, id engine.ItemID) (int32, bool) {
	if int(k) < len(v.index) {
		return v.index[k], v.index[k] >= 0
	}
	return m.itemIndex(id) // added since v was made
}

// view returns the slots in c of m's items, mapping them again only after
// items were added to c (or for another catalog). Rows must be read under
// c.mu.
func (m *Model) view(c *Catalog) *catalogView {
	if v := m.views.Load(); v != nil && v.c == c && v.added == c.added.Load() {
		return v
	}
	slot, index, added := c.slots(m.ids)
	v := &catalogView{c: c, added: added, slot: slot, index: index}
	m.views.Store(v)
	return v
}
