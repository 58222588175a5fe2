package policies_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"heed/engine"
)

// TestConsentMatchesFold checks that the consent policy and engine.Fold, the
// hand-written reference, agree on allow, status, reason and the deciding
// record, over thousands of generated ledgers and questions: few values per
// field, so that scopes overlap, times tie and expiries fall exactly on now.
// Record ids repeat across cases with different contents, which also checks
// that the input cache never serves a stale record. The batch form
// (ConsentBatch, data.heed.consent.decisions) is checked on the same
// questions.
func TestConsentMatchesFold(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 500
	}
	s := newSet(t)
	// Two generators share the set, so that the input cache also sees
	// concurrent use (run with -race).
	for _, seed := range []uint64{20260301, 20260302} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 1))
			reasons := map[string]int{}
			qs := make([]engine.ConsentQuestion, n)
			folds := make([]want, n)
			for i := range n {
				q := randomQuestion(rng)
				v, err := s.Consent(context.Background(), q)
				if err != nil {
					t.Fatalf("case %d: %v", i, err)
				}
				r := engine.Fold(q.Records, q.Scope, q.Subject, q.Notice, q.Now)
				got := want{v.Allow, v.Status, reasonOf(v), v.RecordID}
				if w := (want{r.Allowed, r.Status, r.Reason, r.RecordID}); got != w {
					t.Fatalf("case %d: policy says %+v, engine.Fold %+v\n%s", i, got, w, describe(q))
				}
				reasons[r.Reason]++
				qs[i], folds[i] = q, got
			}
			// The batch form, on the same questions in batches of random
			// sizes, some longer than one batch evaluation takes.
			for start := 0; start < n; {
				end := min(n, start+1+rng.IntN(300))
				vs, err := s.ConsentBatch(context.Background(), qs[start:end])
				if err != nil {
					t.Fatalf("cases %d to %d: %v", start, end-1, err)
				}
				if len(vs) != end-start {
					t.Fatalf("cases %d to %d: %d verdicts for %d questions", start, end-1, len(vs), end-start)
				}
				for j, v := range vs {
					if got := (want{v.Allow, v.Status, reasonOf(v), v.RecordID}); got != folds[start+j] {
						t.Fatalf("case %d: the batch policy says %+v, engine.Fold %+v\n%s", start+j, got, folds[start+j], describe(qs[start+j]))
					}
				}
				start = end
			}
			// The generator must reach every outcome, each often enough to matter.
			for _, reason := range []string{engine.ReasonGranted, engine.ReasonNoConsent, engine.ReasonDenied,
				engine.ReasonWithdrawn, engine.ReasonNeedsReconsent, engine.ReasonMinor} {
				if reasons[reason] < n/100 {
					t.Errorf("only %d of %d cases decided %s", reasons[reason], n, reason)
				}
			}
			t.Logf("%d cases: %v", n, reasons)
		})
	}
}

// randomQuestion returns a question about a random ledger of 0 to 12
// records.
func randomQuestion(rng *rand.Rand) engine.ConsentQuestion {
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hour := func(n int) time.Time { return base.Add(time.Duration(rng.IntN(n)) * time.Hour) }
	purposes := []string{"marketing", "marketing", "personalization", "third_party_sharing"}
	versions := []string{"", "v1", "v2", "v3"}

	purpose := pick(purposes...)
	q := engine.ConsentQuestion{
		Scope: engine.Scope{
			Purpose:    engine.Purpose(purpose),
			Channel:    engine.Channel(pick("", "push", "email")),
			Signal:     engine.Signal(pick("", "browsing", "purchases")),
			Recipient:  pick("", "acme", "globex"),
			Touchpoint: engine.Touchpoint(pick("", "app", "web")),
		},
		Subject: engine.Subject{Minor: rng.IntN(4) == 0, GuardianConsent: rng.IntN(2) == 0},
		Now:     hour(8),
	}
	switch rng.IntN(4) {
	case 0:
		q.Notice.Valid = []string{}
	case 1:
		q.Notice.Valid = []string{pick(versions...)}
	case 2:
		q.Notice.Valid = []string{pick(versions...), pick(versions...)}
	}
	for i := range rng.IntN(13) {
		r := engine.ConsentRecord{
			ID:            fmt.Sprintf("r%d", i),
			Purpose:       q.Scope.Purpose,
			Channel:       engine.Channel(pick("", "", "", "push", "email", "sms")),
			Signal:        engine.Signal(pick("", "", "", "browsing", "purchases")),
			Recipient:     pick("", "", "", "acme", "globex"),
			Touchpoint:    engine.Touchpoint(pick("", "", "", "app", "web", "store")),
			Status:        engine.Status(pick("granted", "granted", "denied", "withdrawn")),
			NoticeVersion: pick(versions...),
			Actor:         pick("", "self", "guardian"),
			RecordedAt:    hour(6),
		}
		if rng.IntN(6) == 0 {
			r.Purpose = engine.Purpose(pick(purposes...))
		}
		if rng.IntN(4) == 0 {
			r.ExpiresAt = hour(10)
		}
		q.Records = append(q.Records, r)
	}
	return q
}

func describe(q engine.ConsentQuestion) string {
	s := fmt.Sprintf("scope %+v subject %+v notice %#v now %s\n", q.Scope, q.Subject, q.Notice.Valid, q.Now.Format(time.TimeOnly))
	for _, r := range q.Records {
		exp := "never"
		if !r.ExpiresAt.IsZero() {
			exp = r.ExpiresAt.Format(time.TimeOnly)
		}
		s += fmt.Sprintf("  %s %s %q %q %q %q %s notice=%q actor=%q at=%s expires=%s\n", r.ID, r.Purpose, r.Channel,
			r.Signal, r.Recipient, r.Touchpoint, r.Status, r.NoticeVersion, r.Actor, r.RecordedAt.Format(time.TimeOnly), exp)
	}
	return s
}
