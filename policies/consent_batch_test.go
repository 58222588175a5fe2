package policies_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
	"heed/policies"
)

// cut returns text without the part from the line starting with from up to
// the line starting with to (to "": the end), failing t if from is absent.
func cut(t *testing.T, text, from, to string) string {
	t.Helper()
	i := strings.Index(text, from)
	if i < 0 {
		t.Fatalf("%q not found: update the test", from)
	}
	j := len(text)
	if to != "" {
		j = i + strings.Index(text[i:], to)
	}
	return text[:i] + text[j:]
}

// A policy set written before the batch entrypoint (an override of
// consent.rego without decisions) still answers ConsentBatch, one question
// at a time. (It keeps decide, which delivery.rego calls.)
func TestConsentBatchWithoutEntrypoint(t *testing.T) {
	ctx := context.Background()
	s := newSet(t)
	mods := s.Modules()
	if err := s.Replace(ctx, "consent_test", cut(t, mods["consent_test"], "# decisions answers each", "")); err != nil {
		t.Fatalf("Replace consent_test: %v", err)
	}
	if err := s.Replace(ctx, "consent", cut(t, mods["consent"], "# decisions answers many", "decide(q) :=")); err != nil {
		t.Fatalf("Replace consent: %v", err)
	}
	if v, err := s.Query(ctx, "heed/consent/decisions", map[string]any{"questions": []any{}}); err != nil || v != nil {
		t.Fatalf("Query(decisions) = %v, %v; want undefined", v, err)
	}
	qs := batchQuestions(20)
	var want []engine.Verdict
	for _, q := range qs {
		v, err := s.Consent(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, v)
	}
	got, err := s.ConsentBatch(ctx, qs)
	if err != nil {
		t.Fatalf("ConsentBatch: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ConsentBatch differs from Consent (-want +got):\n%s", diff)
	}
}

// A policy set whose batch entrypoint disagrees with decision is refused.
func TestConsentBatchMustAgree(t *testing.T) {
	ctx := context.Background()
	s := newSet(t)
	text := s.Modules()["consent"]
	const noConsent = `} else := {"allow": false, "status": "none", "reason": "no_consent", "record_id": ""}`
	if !strings.Contains(text, noConsent) {
		t.Fatal("consent.rego changed shape: update the test")
	}
	drifted := strings.Replace(text, noConsent, `} else := {"allow": true, "status": "none", "reason": "no_consent", "record_id": ""}`, 1)
	err := s.Replace(ctx, "consent", drifted)
	var pe *engine.PolicyError
	if !errors.As(err, &pe) || !errors.Is(err, engine.ErrPolicyReject) || !strings.Contains(err.Error(), "data.heed.consent.decisions") {
		t.Fatalf("Replace with a drifted decisions = %v; want a *PolicyError naming data.heed.consent.decisions", err)
	}
}

var _ engine.Gate = (*policies.Set)(nil)
