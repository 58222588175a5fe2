package policies_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
	"heed/policies"
)

// benchQuestion is a realistic question: may the app send a push, given a
// ledger of six marketing records over two years (a global grant, a
// channel-scoped withdrawal and re-grant, a touchpoint-scoped grant, an
// expired promotion grant and an SMS denial) under a notice rule.
func benchQuestion() engine.ConsentQuestion {
	t0 := time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC)
	rec := func(id string, h int, ch engine.Channel, tp engine.Touchpoint, st engine.Status) engine.ConsentRecord {
		return engine.ConsentRecord{ID: id, User: "u-1001", Purpose: engine.PurposeMarketing, Channel: ch,
			Touchpoint: tp, Status: st, NoticeVersion: "2025-01", Source: "app",
			RecordedAt: t0.Add(time.Duration(h) * time.Hour)}
	}
	records := []engine.ConsentRecord{
		rec("cr-0001", 0, "", "", engine.StatusGranted),
		rec("cr-0002", 200, engine.ChannelPush, "", engine.StatusWithdrawn),
		rec("cr-0003", 900, engine.ChannelEmail, engine.TouchpointWeb, engine.StatusGranted),
		rec("cr-0004", 1500, engine.ChannelSMS, "", engine.StatusDenied),
		rec("cr-0005", 3000, engine.ChannelPush, engine.TouchpointApp, engine.StatusGranted),
		rec("cr-0006", 4000, engine.ChannelInApp, "", engine.StatusGranted),
	}
	records[5].ExpiresAt = t0.Add(5000 * time.Hour)
	return engine.ConsentQuestion{
		Scope:   engine.Scope{Purpose: engine.PurposeMarketing, Channel: engine.ChannelPush, Touchpoint: engine.TouchpointApp},
		Subject: engine.Subject{},
		Notice:  engine.NoticeRule{Valid: []string{"2025-01", "2025-06"}},
		Records: records,
		Now:     t0.Add(6000 * time.Hour),
	}
}

// BenchmarkConsentRego is a full consent decision through the policy, as the
// engine asks it for each recommendation and send: input built from the
// engine types (its records cached from earlier decisions), one evaluation,
// the verdict read back.
func BenchmarkConsentRego(b *testing.B) {
	s := newSet(b)
	q := benchQuestion()
	ctx := context.Background()
	v, err := s.Consent(ctx, q)
	if err != nil || !v.Allow || v.RecordID != "cr-0005" {
		b.Fatalf("Consent = %+v, %v; want allowed by cr-0005", v, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Consent(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsentRegoCold is BenchmarkConsentRego with ledgers the set has
// not seen recently: every record's input term is built anew, as for the
// first decision about a user.
func BenchmarkConsentRegoCold(b *testing.B) {
	s := newSet(b)
	ctx := context.Background()
	// More records than the input cache keeps, asked about in turn.
	qs := make([]engine.ConsentQuestion, 8192)
	for i := range qs {
		qs[i] = benchQuestion()
		qs[i].Records = slices.Clone(qs[i].Records)
		for j := range qs[i].Records {
			qs[i].Records[j].ID = fmt.Sprintf("cr-%d-%d", i, j)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Consent(ctx, qs[i%len(qs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkConsentFold is the hand-written reference on the same question.
func BenchmarkConsentFold(b *testing.B) {
	q := benchQuestion()
	if r := engine.Fold(q.Records, q.Scope, q.Subject, q.Notice, q.Now); !r.Allowed || r.RecordID != "cr-0005" {
		b.Fatalf("Fold = %+v; want allowed by cr-0005", r)
	}
	b.ReportAllocs()
	for b.Loop() {
		engine.Fold(q.Records, q.Scope, q.Subject, q.Notice, q.Now)
	}
}

// BenchmarkAuthorize is the memoized path every HTTP request takes.
func BenchmarkAuthorize(b *testing.B) {
	s := newSet(b)
	ctx := context.Background()
	r := engine.AccessRequest{Role: engine.RoleShopper, Subject: "u-1001", Action: "consents.write", Owner: "u-1001"}
	b.ReportAllocs()
	for b.Loop() {
		if v, err := s.Authorize(ctx, r); err != nil || !v.Allow {
			b.Fatalf("Authorize = %+v, %v", v, err)
		}
	}
}

// BenchmarkAuthorizeUncached evaluates the authz policy every time, as the
// first request of a (role, action, relation) after a change of policy does.
func BenchmarkAuthorizeUncached(b *testing.B) {
	s := newSet(b)
	ctx := context.Background()
	r := engine.AccessRequest{Role: engine.RoleShopper, Subject: "u-1001", Action: "consents.write", Owner: "u-1001"}
	b.ReportAllocs()
	for b.Loop() {
		if v, err := policies.AuthorizeUncached(s, ctx, r); err != nil || !v.Allow {
			b.Fatalf("Authorize = %+v, %v", v, err)
		}
	}
}

func BenchmarkCollect(b *testing.B) {
	s := newSet(b)
	ctx := context.Background()
	r := engine.CollectRequest{EventType: "view", Touchpoint: engine.TouchpointApp, Signal: engine.SignalBrowsing, SignalAllowed: true}
	b.ReportAllocs()
	for b.Loop() {
		if v, err := s.Collect(ctx, r); err != nil || !v.Allow {
			b.Fatalf("Collect = %+v, %v", v, err)
		}
	}
}

// batchQuestions returns n questions as event ingestion asks them: about
// users with short personalization ledgers (a global grant, sometimes a
// denial of one signal), each user asked about a few (signal, touchpoint)
// scopes, every third question instead about benchQuestion's marketing
// ledger at a varying touchpoint.
func batchQuestions(n int) []engine.ConsentQuestion {
	t0 := time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC)
	signals := []engine.Signal{engine.SignalBrowsing, engine.SignalPurchases, engine.SignalSearch}
	tps := []engine.Touchpoint{engine.TouchpointApp, engine.TouchpointWeb, engine.TouchpointMiniProgram}
	qs := make([]engine.ConsentQuestion, n)
	for i := range qs {
		if i%3 == 2 {
			qs[i] = benchQuestion()
			qs[i].Scope.Touchpoint = tps[i%len(tps)]
			continue
		}
		user := fmt.Sprintf("u-%d", i/4)
		recs := []engine.ConsentRecord{{ID: user + "-1", User: engine.UserID(user), Purpose: engine.PurposePersonalization,
			Status: engine.StatusGranted, NoticeVersion: "2025-01", Actor: engine.ActorSelf, RecordedAt: t0}}
		if i%8 < 3 {
			recs = append(recs, engine.ConsentRecord{ID: user + "-2", User: engine.UserID(user), Purpose: engine.PurposePersonalization,
				Signal: engine.SignalPurchases, Status: engine.StatusDenied, NoticeVersion: "2025-01", Actor: engine.ActorSelf,
				RecordedAt: t0.Add(time.Hour)})
		}
		qs[i] = engine.ConsentQuestion{
			Scope:   engine.Scope{Purpose: engine.PurposePersonalization, Signal: signals[i%len(signals)], Touchpoint: tps[(i/3)%len(tps)]},
			Notice:  engine.NoticeRule{Valid: []string{"2025-01"}},
			Records: recs,
			Now:     t0.Add(6000 * time.Hour),
		}
	}
	return qs
}

// BenchmarkConsentBatch compares n questions asked one by one (Consent)
// with the same n asked in one evaluation (ConsentBatch with evaluations of
// up to n questions), per question: ns/question and allocs/question.
func BenchmarkConsentBatch(b *testing.B) {
	s := newSet(b)
	ctx := context.Background()
	for _, n := range []int{1, 6, 32, 128, 500} {
		qs := batchQuestions(n)
		want := make([]engine.Verdict, n)
		for i, q := range qs {
			v, err := s.Consent(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			want[i] = v
		}
		got, err := policies.ConsentBatchChunked(s, ctx, qs, n)
		if err != nil {
			b.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			b.Fatalf("ConsentBatch differs from Consent (-want +got):\n%s", diff)
		}
		b.Run(fmt.Sprintf("n=%d/single", n), func(b *testing.B) {
			perQuestion(b, n, func() error {
				for _, q := range qs {
					if _, err := s.Consent(ctx, q); err != nil {
						return err
					}
				}
				return nil
			})
		})
		b.Run(fmt.Sprintf("n=%d/batch", n), func(b *testing.B) {
			perQuestion(b, n, func() error {
				_, err := policies.ConsentBatchChunked(s, ctx, qs, n)
				return err
			})
		})
	}
}

// perQuestion runs ask, which asks n questions, b.N times and reports the
// cost per question.
func perQuestion(b *testing.B, n int, ask func() error) {
	b.Helper()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for b.Loop() {
		if err := ask(); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&m1)
	q := float64(b.N * n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/q, "ns/question")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/q, "allocs/question")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/q, "B/question")
}

// benchDelivery is a realistic send-time question: benchQuestion's ledger
// of six marketing records, a campaign on push (in the app) then email,
// both enabled with caps of their own not reached, a few sends today and
// this week, outside quiet hours, under a campaign cap not reached. Push is
// allowed by cr-0005.
func benchDelivery() engine.DeliveryQuestion {
	c := benchQuestion()
	now := c.Now
	day := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	return engine.DeliveryQuestion{
		Now:     now,
		Subject: c.Subject,
		Notice:  c.Notice,
		Records: c.Records,
		Channels: []engine.ChannelFacts{
			{Channel: engine.ChannelPush, Touchpoint: engine.TouchpointApp, Enabled: true, MaxPerDay: 2, MaxPerWeek: 6, SentToday: 1, SentWeek: 3},
			{Channel: engine.ChannelEmail, Enabled: true, MaxPerWeek: 3, SentWeek: 1},
		},
		OfferType:       "discount",
		OfferTypes:      []string{"discount", "threshold", "points"},
		SentToday:       1,
		SentThisWeek:    4,
		DayEnds:         day,
		WeekEnds:        day.Add(3 * 24 * time.Hour),
		CampaignCap:     2,
		CampaignSent:    1,
		CampaignCapEnds: day.Add(20 * 24 * time.Hour),
		WindowEnd:       now.Add(6 * time.Hour),
	}
}

// BenchmarkDelivery is a full send-time decision through the policy
// (input built from the engine types, its records cached from earlier
// decisions; one evaluation; the verdict read back), next to
// engine.DecideDelivery, the hand-written reference, on the same question:
// benchDelivery (send, the common case: push is used), the same with push
// withdrawn (fallback: email is used, on the global grant), and in quiet
// hours (quiet: deferred).
func BenchmarkDelivery(b *testing.B) {
	s := newSet(b)
	ctx := context.Background()
	mcap, err := s.MarketingCap(ctx)
	if err != nil {
		b.Fatal(err)
	}
	send := benchDelivery()
	fallback := benchDelivery()
	fallback.Records = append(slices.Clone(fallback.Records), engine.ConsentRecord{ID: "cr-0007", User: "u-1001",
		Purpose: engine.PurposeMarketing, Channel: engine.ChannelPush, Status: engine.StatusWithdrawn,
		NoticeVersion: "2025-01", RecordedAt: fallback.Now.Add(-time.Hour)})
	quiet := benchDelivery()
	quiet.Quiet, quiet.QuietEnds = true, quiet.Now.Add(2*time.Hour)
	for _, c := range []struct {
		name string
		q    engine.DeliveryQuestion
		want engine.DeliveryVerdict
	}{
		{"send", send, engine.DeliveryVerdict{Allow: true, Channel: engine.ChannelPush, RecordID: "cr-0005"}},
		{"fallback", fallback, engine.DeliveryVerdict{Allow: true, Channel: engine.ChannelEmail, RecordID: "cr-0001"}},
		{"quiet", quiet, engine.DeliveryVerdict{Reason: engine.ReasonQuietHours, DeferUntil: quiet.QuietEnds}},
	} {
		if v, err := s.Delivery(ctx, c.q); err != nil || !cmp.Equal(v, c.want) {
			b.Fatalf("%s: Delivery = %+v, %v; want %+v", c.name, v, err, c.want)
		}
		if v := engine.DecideDelivery(c.q, mcap); !cmp.Equal(v, c.want) {
			b.Fatalf("%s: DecideDelivery = %+v; want %+v", c.name, v, c.want)
		}
		b.Run(c.name+"/policy", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Delivery(ctx, c.q); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/DecideDelivery", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				engine.DecideDelivery(c.q, mcap)
			}
		})
	}
}
