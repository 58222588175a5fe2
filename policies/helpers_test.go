package policies_test

import (
	"context"
	"log/slog"
	"testing"

	"heed/policies"
)

// newSet returns a Set of the embedded policies, failing tb if they do not
// load.
func newSet(tb testing.TB) *policies.Set {
	tb.Helper()
	s, err := policies.New(context.Background(), policies.Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}
