package engine

import (
	"context"
	"fmt"
	"iter"
)

// PutItems validates a batch of catalog items and creates or replaces all of
// them, with UpdatedAt set to now, then hands them to the recommender (if
// Options.Recommender is set). It returns how many were stored. Returns a
// *ValidationError (ErrInvalid) naming "items[i].field", with nothing
// stored, if any item is bad.
func (s *Service) PutItems(ctx context.Context, items []Item) (int, error) {
	if err := ValidateItems(items); err != nil {
		return 0, err
	}
	now := s.now()
	stored := make([]Item, len(items))
	for i, it := range items {
		it.UpdatedAt = now
		stored[i] = it
	}
	if err := s.store.PutItems(ctx, stored); err != nil {
		return 0, fmt.Errorf("put items: %w", err)
	}
	if s.opts.Recommender != nil {
		s.opts.Recommender.PutItems(stored...)
	}
	return len(stored), nil
}

// Items returns the catalog items of ids that exist.
func (s *Service) Items(ctx context.Context, ids []ItemID) (map[ItemID]Item, error) {
	return s.store.Items(ctx, ids)
}

// ScanItems yields the whole catalog in id order (to load the recommender).
func (s *Service) ScanItems(ctx context.Context) iter.Seq2[Item, error] {
	return s.store.ScanItems(ctx)
}
