package scheduler

import (
	"context"

	"heed/engine"
)

// ForgetNow does what a Forget task does, at once, for the load test.
func (s *Scheduler) ForgetNow(ctx context.Context, users ...engine.UserID) (int, error) {
	return s.forget(ctx, users)
}
