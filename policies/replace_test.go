package policies_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"heed/engine"
	"heed/policies"
)

// A good change: merchandisers may also export reports, an action the base
// set does not know.
func withReports(t *testing.T, s *policies.Set) string {
	t.Helper()
	text := s.Modules()["authz"]
	changed := strings.Replace(text, `"events.write", "recommendations.read",
}`, `"events.write", "recommendations.read",
	"reports.read",
}`, 1)
	changed = strings.Replace(changed, `console := {"campaigns.read",`, `console := {"reports.read", "campaigns.read",`, 1)
	if changed == text {
		t.Fatal("authz.rego changed shape: update withReports")
	}
	return changed
}

// reports asks what withReports changes.
func reports() engine.AccessRequest {
	return engine.AccessRequest{Role: engine.RoleMerchandiser, Action: "reports.read"}
}

func TestReplace(t *testing.T) {
	ctx := context.Background()
	s := newSet(t)
	rev := s.Revision()
	if v, _ := s.Authorize(ctx, reports()); v.Allow { // memoized: the change must drop it
		t.Fatal("reports.read allowed before the change")
	}

	if err := s.Replace(ctx, "authz", withReports(t, s)); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if v, err := s.Authorize(ctx, reports()); err != nil || !v.Allow {
		t.Errorf("after the change Authorize(reports.read) = %+v, %v; want allowed", v, err)
	}
	if s.Revision() == rev || len(s.Revision()) != 12 {
		t.Errorf("revision %q after the change, was %q; want a new 12-digit one", s.Revision(), rev)
	}

	// A new module with its own tests is added.
	extra := `package heed.extra

greeting := "ni hao"

test_greeting if greeting == "ni hao"
`
	if err := s.Replace(ctx, "extra", extra); err != nil {
		t.Fatalf("Replace(extra): %v", err)
	}
	if got := s.Modules()["extra"]; got != extra {
		t.Errorf("Modules()[extra] = %q", got)
	}
	if got, err := s.Query(ctx, "heed/extra/greeting", nil); err != nil || got != "ni hao" {
		t.Errorf("Query(heed/extra/greeting) = %v, %v", got, err)
	}
}

func TestReplaceRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, module, text string
		want               string // in one of the errors
	}{
		{"syntax error", "authz", "package heed.authz\n\nallow if {", "authz.rego:"},
		{"compile error", "collect", "package heed.collect\n\ndecision := {\"allow\": undefined_thing}", "undefined_thing"},
		{"failing Rego test", "collect", `package heed.collect

default allow := true

decision := {"allow": allow, "reasons": set()}
`, "data.heed.collect_test.test_"},
		{"failing new test", "extra", "package heed.extra\n\ntest_wrong if 1 == 2\n", "data.heed.extra.test_wrong: FAIL"},
		{"entrypoint removed", "consent", "package heed.consent\n\nallow := false\n\ndecide(q) := {\"allow\": false, \"reason\": \"no_consent\", \"record_id\": \"\"}\n", "entrypoint data.heed.consent.decision is not defined"},
		{"a function another module calls removed", "consent", "package heed.consent\n\ndecision := {}\n", "undefined function data.heed.consent.decide"},
		{"entrypoint of the wrong shape", "collect", "package heed.collect\n\ndecision := true\n", "data.heed.collect.decision"},
		{"entrypoint undefined on an input", "consent", consentWith("decision := {\"allow\": false} if input.now < 0"),
			"data.heed.consent.decision on a sample input: evaluate policy: the decision is undefined"},
		{"entrypoint that fails to evaluate", "consent", consentWith("decision := {\"allow\": false} if input.now > 0\n\ndecision := {\"allow\": true} if input.now > 0"),
			"eval_conflict_error: rule data.heed.consent.decision produced conflicting values"},
		{"empty module", "authz", "", "authz.rego"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSet(t)
			rev, before := s.Revision(), s.Modules()
			err := s.Replace(ctx, tt.module, tt.text)
			var pe *engine.PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, engine.ErrPolicyReject) {
				t.Fatalf("Replace = %v, want a *engine.PolicyError", err)
			}
			if !strings.Contains(strings.Join(pe.Errors, "\n"), tt.want) {
				t.Errorf("errors %q, want one containing %q", pe.Errors, tt.want)
			}
			if s.Revision() != rev || s.Modules()[tt.module] != before[tt.module] {
				t.Error("the refused change took effect")
			}
			// The old set keeps deciding.
			v, err := s.Authorize(ctx, engine.AccessRequest{Role: engine.RoleStorefront, Action: "policies.write"})
			if err != nil || v.Allow {
				t.Errorf("after the refusal Authorize = %+v, %v", v, err)
			}
			c, err := s.Collect(ctx, engine.CollectRequest{EventType: "view"})
			if err != nil || c.Allow {
				t.Errorf("after the refusal Collect = %+v, %v", c, err)
			}
		})
	}
}

func TestReplaceBadName(t *testing.T) {
	s := newSet(t)
	for _, name := range []string{"", "Authz", "1x", "../authz", "authz.rego", "a-b", "a b"} {
		if err := s.Replace(context.Background(), name, "package x\n"); !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("Replace(%q) = %v, want engine.ErrInvalid", name, err)
		}
	}
}

func TestModulesIsACopy(t *testing.T) {
	s := newSet(t)
	m := s.Modules()
	for _, name := range []string{"authz", "authz_test", "consent", "consent_test", "collect", "collect_test"} {
		if m[name] == "" {
			t.Errorf("Modules() has no %q", name)
		}
	}
	m["authz"] = "changed"
	if s.Modules()["authz"] == "changed" {
		t.Error("Modules() returned the set's own map")
	}
}

func TestNewOptions(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	base := newSet(t)

	// Overrides come from the store: the same change as Replace, at start.
	s, err := policies.New(ctx, policies.Options{Overrides: map[string]string{"authz": withReports(t, base)}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Authorize(ctx, reports()); !v.Allow {
		t.Error("the override did not take effect")
	}
	if s.Revision() == base.Revision() {
		t.Error("the override did not change the revision")
	}

	// A bad override stops New: heed does not start on a set it cannot vouch for.
	_, err = policies.New(ctx, policies.Options{Overrides: map[string]string{"authz": "package heed.authz\n\nallow if {"}}, log)
	if !errors.Is(err, engine.ErrPolicyReject) {
		t.Errorf("New with a broken override = %v, want ErrPolicyReject", err)
	}

	// Dir replaces the embedded modules.
	dir := t.TempDir()
	for name, text := range base.Modules() {
		if err := os.WriteFile(filepath.Join(dir, name+".rego"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err = policies.New(ctx, policies.Options{Dir: dir}, log)
	if err != nil {
		t.Fatal(err)
	}
	if s.Revision() != base.Revision() {
		t.Errorf("revision from a copy of the modules = %q, want %q", s.Revision(), base.Revision())
	}
	if _, err := policies.New(ctx, policies.Options{Dir: t.TempDir()}, log); err == nil {
		t.Error("New from an empty directory succeeded")
	}
}

// TestReplaceWhileDeciding runs decisions on every Gate method while the set
// is replaced, good and bad changes alternating; run it with -race. Every
// answer must come from the old set or the new one, whole.
func TestReplaceWhileDeciding(t *testing.T) {
	ctx := context.Background()
	s := newSet(t)
	good := withReports(t, s)
	q := benchQuestion()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				v, err := s.Consent(ctx, q)
				if err != nil || !v.Allow || v.RecordID != "cr-0005" {
					t.Errorf("Consent = %+v, %v", v, err)
					return
				}
				a, err := s.Authorize(ctx, engine.AccessRequest{Role: engine.RoleShopper, Subject: "u1", Action: "consents.write", Owner: "u1"})
				if err != nil || !a.Allow {
					t.Errorf("Authorize = %+v, %v", a, err)
					return
				}
				if _, err := s.Authorize(ctx, reports()); err != nil { // allowed or not, depending on the set
					t.Error(err)
					return
				}
				c, err := s.Collect(ctx, engine.CollectRequest{EventType: "purchase"})
				if err != nil || !c.Allow {
					t.Errorf("Collect = %+v, %v", c, err)
					return
				}
				if _, err := s.Query(ctx, "heed/authz/allow", map[string]any{"role": "admin", "action": "users.read"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	original := s.Modules()["authz"]
	for i := range 6 {
		text := good
		if i%2 == 1 {
			text = original
		}
		if err := s.Replace(ctx, "authz", text); err != nil {
			t.Errorf("Replace %d: %v", i, err)
		}
		if err := s.Replace(ctx, "authz", "package heed.authz\n\nallow if {"); err == nil {
			t.Error("a syntax error was accepted")
		}
	}
	close(stop)
	wg.Wait()
}

// consentWith returns a consent module whose decision rules are decision,
// with the other rules other modules and entrypoints need.
func consentWith(decision string) string {
	return "package heed.consent\n\n" + decision + `

decide(q) := {"allow": false, "status": "none", "reason": "no_consent", "record_id": ""}

write_decision := {"allow": true, "reasons": set()}
`
}

// ShippedDelivery holds while the modules that decide are the shipped
// ones: a test module added, or a module put back as shipped, keeps it;
// any other change, to any module, ends it.
func TestShippedDelivery(t *testing.T) {
	ctx := context.Background()
	s := newSet(t)
	shipped := s.Modules()
	steps := []struct {
		name, text string
		want       bool
	}{
		{"extra_test", "package heed.extra_test\n\ntest_nothing if true\n", true},
		{"delivery", shipped["delivery"], true},
		{"authz", withReports(t, s), false},
		{"authz", shipped["authz"], true},
		{"delivery", shipped["delivery"] + "\nextra_rule := 1\n", false},
		{"delivery", shipped["delivery"], true},
		{"extra", "package heed.extra\n\ngreeting := \"ni hao\"\n", false},
	}
	if !s.ShippedDelivery() {
		t.Fatal("ShippedDelivery = false on the shipped set")
	}
	for _, st := range steps {
		if err := s.Replace(ctx, st.name, st.text); err != nil {
			t.Fatalf("Replace %s: %v", st.name, err)
		}
		if got := s.ShippedDelivery(); got != st.want {
			t.Errorf("after replacing %s: ShippedDelivery = %v, want %v", st.name, got, st.want)
		}
	}
}
