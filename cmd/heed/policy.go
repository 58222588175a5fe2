package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"

	"heed/policies"
)

// policyCmd runs `heed policy test [DIR]`: it compiles the policy set —
// the embedded modules, or the *.rego files of DIR as `heed serve --policies
// DIR` would load them — and runs its Rego tests, so a compliance admin can
// check a change before deploying it.
func policyCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "test" || len(args) > 2 {
		return errors.New("usage: heed policy test [DIR]")
	}
	var dir string
	if len(args) == 2 {
		dir = args[1]
	}
	quiet := slog.New(slog.DiscardHandler)
	set, err := policies.New(ctx, policies.Options{Dir: dir}, quiet)
	if err != nil {
		return fmt.Errorf("policy set refused: %w", err)
	}
	names := make([]string, 0, len(set.Modules()))
	for name := range set.Modules() {
		names = append(names, name)
	}
	sort.Strings(names)
	src := "embedded policies"
	if dir != "" {
		src = dir
	}
	fmt.Fprintf(stdout, "%s: compiled and every Rego test passed (revision %s)\nmodules: %v\n", src, set.Revision(), names)
	return nil
}
