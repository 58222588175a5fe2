package badgerstore

import (
	"slices"
	"sync"

	"heed/engine"
)

// seenTouchpoints remembers, per user, touchpoints already stored in the
// user's profile, so that a batch of events from a touchpoint the profile
// holds does not read and decode the profile to find nothing to add (the
// read cost ingestion 7 % per event). It is a cache: forgetting is always
// safe, and it is dropped whole when it grows past maxSeenTouchpoints.
type seenTouchpoints struct {
	mu   sync.Mutex
	seen map[engine.UserID][]engine.Touchpoint // guarded by mu
}

const maxSeenTouchpoints = 200_000

// known reports whether every touchpoint of tps is stored for id.
func (s *seenTouchpoints) known(id engine.UserID, tps []engine.Touchpoint) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	have := s.seen[id]
	for _, tp := range tps {
		if !slices.Contains(have, tp) {
			return false
		}
	}
	return true
}

// stored records that tps are in id's stored profile.
func (s *seenTouchpoints) stored(id engine.UserID, tps []engine.Touchpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil || len(s.seen) >= maxSeenTouchpoints {
		s.seen = make(map[engine.UserID][]engine.Touchpoint)
	}
	have := s.seen[id]
	for _, tp := range tps {
		if !slices.Contains(have, tp) {
			have = append(have, tp)
		}
	}
	s.seen[id] = have
}

// forget drops what is remembered of ids (erased or merged away).
func (s *seenTouchpoints) forget(ids ...engine.UserID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.seen, id)
	}
}
