package policies

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestRegoTests runs every Rego test of the embedded set, the same run New
// and Replace do, and checks that each policy package has tests.
func TestRegoTests(t *testing.T) {
	modules, err := loadModules("")
	if err != nil {
		t.Fatal(err)
	}
	parsed, errs := parseModules(modules)
	if len(errs) > 0 {
		t.Fatalf("parse: %v", errs)
	}
	n, failures, err := runTests(context.Background(), parsed, capabilities())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range failures {
		t.Error(f)
	}
	if n < 30 {
		t.Errorf("ran %d Rego tests, want at least 30: were the tests found?", n)
	}
	for _, name := range []string{"authz", "consent", "collect", "delivery"} {
		if !strings.Contains(modules[name+"_test"], "test_") {
			t.Errorf("module %s has no tests in %s_test.rego", name, name)
		}
	}
	t.Logf("%d Rego tests passed", n)
}

// TestCapabilities checks that a module cannot reach the network or the
// clock: decisions depend on their input alone.
func TestCapabilities(t *testing.T) {
	s := mustNew(t)
	err := s.Replace(context.Background(), "leak", `package heed.leak

now := time.now_ns()
`)
	if err == nil || !strings.Contains(err.Error(), "time.now_ns") {
		t.Errorf("Replace with time.now_ns = %v, want an error naming it", err)
	}
}

// TestRegoTestsFail checks that the runner reports a failing and an erring
// test by name, so that Replace cannot mistake them for a pass.
func TestRegoTestsFail(t *testing.T) {
	parsed, errs := parseModules(map[string]string{"x_test": `package x_test

test_fails if 1 == 2

test_errs if 1 / 0 == 1

test_passes if true
`})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	n, failures, err := runTests(context.Background(), parsed, capabilities())
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || len(failures) != 2 ||
		!strings.HasPrefix(failures[0], "data.x_test.test_errs: ERROR") ||
		failures[1] != "data.x_test.test_fails: FAIL" {
		t.Errorf("runTests = %d, %q; want 3 run, test_errs erring and test_fails failing", n, failures)
	}
}

func mustNew(tb testing.TB) *Set {
	tb.Helper()
	s, err := New(context.Background(), Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
