package scheduler

import (
	"context"

	"heed/engine"
)

// ForgetNow does what a Forget task does, at once, for the load test.
func (s *Scheduler) ForgetNow(ctx context.Context, users ...engine.UserID) (int, error) {
	return s.forget(ctx, users)
}

// Schedule queues delivery tasks for cs, as planning does.
func (s *Scheduler) Schedule(ctx context.Context, cs []engine.Contact) error {
	return s.schedule(ctx, cs, "test")
}
