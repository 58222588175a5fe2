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
