package recommend

import (
	"sync/atomic"

	"heed/engine"
)

// Live serves recommendations from the live Catalog and the current Model,
// which Swap replaces atomically (a retrain, or a retrain without an erased
// shopper). It satisfies engine.Recommender and is safe for concurrent use.
type Live struct {
	catalog *Catalog
	model   atomic.Pointer[Model]
}

var _ engine.Recommender = (*Live)(nil)

// NewLive returns a Live over c with no model yet: until the first Swap, it
// serves what the catalog alone gives.
func NewLive(c *Catalog) *Live {
	if c == nil {
		c = NewCatalog()
	}
	return &Live{catalog: c}
}

// Swap makes m the model of every later request; nil goes back to the
// catalog alone.
func (l *Live) Swap(m *Model) { l.model.Store(m) }

// Model returns the current model, or nil.
func (l *Live) Model() *Model { return l.model.Load() }

// Catalog returns the live catalog.
func (l *Live) Catalog() *Catalog { return l.catalog }

// Recommend serves req with the current model.
func (l *Live) Recommend(req engine.RecRequest) []engine.Recommended {
	return l.model.Load().Recommend(l.catalog, req)
}

// PutItems updates the live catalog.
func (l *Live) PutItems(items ...engine.Item) { l.catalog.Put(items...) }
