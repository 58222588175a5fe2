package policies

import (
	"context"

	"heed/engine"
)

// AuthorizeUncached evaluates the authz policy without the memo, for
// benchmarks and for checking the memo against the policy.
func AuthorizeUncached(s *Set, ctx context.Context, r engine.AccessRequest) (engine.Verdict, error) {
	snap := s.cur.Load()
	return s.verdict(ctx, snap, &snap.authz, s.in.authz(r))
}

// ConsentBatchChunked is Set.ConsentBatch with evaluations of at most chunk
// questions, for benchmarks that choose the chunk size.
func ConsentBatchChunked(s *Set, ctx context.Context, qs []engine.ConsentQuestion, chunk int) ([]engine.Verdict, error) {
	return s.consentBatch(ctx, s.cur.Load(), qs, chunk)
}
