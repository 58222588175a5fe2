package engine_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"heed/engine"
	"heed/policies"
)

// The planner foresees each send-time decision (PlanDeliveries, over the
// facts the audience scan reads): with the hand-written reference while the
// shipped policies are in force, with the policy once replaced. The send
// itself is decided by the Rego delivery policy (AttemptDelivery, over the
// facts read at send time). On generated shoppers and campaigns the two
// must agree: the same channel, the same deferral, the same reason.
func TestPlannerAgreesWithSendTime(t *testing.T) {
	t.Run("shipped", func(t *testing.T) { plannerAgreesWithSendTime(t, false) })
	// A policy more permissive than the reference: the planner must not
	// leave out the shoppers only it allows.
	t.Run("replaced", func(t *testing.T) { plannerAgreesWithSendTime(t, true) })
}

// pointsForAll is the shipped delivery policy, except that points offers
// reach even shoppers who opted out of points (a retailer that counts them
// as loyalty-account notices).
func pointsForAll(t *testing.T, shipped string) string {
	out := strings.Replace(shipped, "\tnot input.offer_type in input.offer_types\n", "\tnot offer_accepted\n", 1)
	out = strings.Replace(out, "\tinput.offer_type in input.offer_types\n", "\toffer_accepted\n", 1)
	if strings.Count(out, "offer_accepted") != 2 {
		t.Fatal("the shipped delivery policy has changed shape; update pointsForAll")
	}
	return out + `
offer_accepted if input.offer_type in input.offer_types

offer_accepted if input.offer_type == "points"
`
}

func plannerAgreesWithSendTime(t *testing.T, replaced bool) {
	var gate engine.Gate
	e := newEnvGate(t, func(g engine.Gate) engine.Gate { gate = g; return g })
	if replaced {
		if err := gate.Replace(e.ctx, "delivery", pointsForAll(t, gate.Modules()["delivery"])); err != nil {
			t.Fatal(err)
		}
	}
	if gate.ShippedDelivery() == replaced {
		t.Fatalf("ShippedDelivery = %v after replacing the policy: %v", gate.ShippedDelivery(), replaced)
	}
	rng := rand.New(rand.NewPCG(4, 2))
	zones := []string{"Asia/Shanghai", "America/Los_Angeles", "Europe/London", ""}
	pol, err := policies.New(e.ctx, policies.Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mcap, err := pol.MarketingCap(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	var cs []engine.Contact
	rules := make([]engine.ContactRules, n)
	noPoints := make([]bool, n) // opted out of points offers
	for i := range n {
		id := engine.UserID(fmt.Sprintf("s%03d", i))
		p := engine.Profile{TimeZone: zones[rng.IntN(len(zones))]}
		if rng.IntN(6) == 0 {
			p.Minor, p.GuardianConsent = true, rng.IntN(2) == 0
		}
		if _, err := e.svc.PutUser(e.ctx, id, p); err != nil {
			t.Fatal(err)
		}
		var recs []engine.ConsentRecord
		for _, ch := range engine.Channels {
			if rng.IntN(3) == 0 {
				continue
			}
			r := engine.ConsentRecord{Purpose: engine.PurposeMarketing, Channel: ch, Source: "app",
				Status: []engine.Status{engine.StatusGranted, engine.StatusGranted, engine.StatusWithdrawn, engine.StatusDenied}[rng.IntN(4)]}
			if rng.IntN(4) == 0 {
				r.Touchpoint = engine.TouchpointApp
			}
			if p.Minor && r.Status == engine.StatusGranted {
				r.Actor, r.Evidence = engine.ActorGuardian, json.RawMessage(`{"guardian": "parent"}`)
			}
			recs = append(recs, r)
		}
		if len(recs) > 0 {
			if _, err := e.svc.RecordConsents(e.ctx, id, recs); err != nil {
				t.Fatal(err)
			}
		}
		if rng.IntN(2) == 0 {
			prefs := engine.DefaultPreferences()
			for _, ch := range engine.Channels {
				prefs.Channels[ch] = engine.ChannelPref{Enabled: rng.IntN(5) > 0, MaxPerDay: rng.IntN(3)}
			}
			rng.Shuffle(len(prefs.ChannelOrder), func(i, j int) {
				prefs.ChannelOrder[i], prefs.ChannelOrder[j] = prefs.ChannelOrder[j], prefs.ChannelOrder[i]
			})
			if rng.IntN(3) == 0 { // quiet hours around now in the shopper's zone, or not
				loc, _ := engine.LoadLocation(p.TimeZone)
				if loc == nil {
					loc = time.UTC
				}
				at := now.In(loc).Add(time.Duration(rng.IntN(5)-2) * time.Hour)
				prefs.QuietHours = &engine.QuietHours{Start: at.Format("15:04"), End: at.Add(3 * time.Hour).Format("15:04")}
			}
			if rng.IntN(3) == 0 {
				prefs.OfferTypes = []string{engine.OfferTypes[rng.IntN(len(engine.OfferTypes))]}
				noPoints[i] = prefs.OfferTypes[0] != "points"
			}
			if _, err := e.svc.PutPreferences(e.ctx, id, prefs, engine.AnyVersion); err != nil {
				t.Fatal(err)
			}
		}
		chans := slices.Clone(engine.Channels)
		rng.Shuffle(len(chans), func(i, j int) { chans[i], chans[j] = chans[j], chans[i] })
		rules[i] = engine.ContactRules{Channels: chans[:1+rng.IntN(len(chans))], OfferType: engine.OfferTypes[rng.IntN(len(engine.OfferTypes))],
			TimeZone: "Asia/Shanghai"}
		window := []time.Duration{0, time.Hour, 12 * time.Hour, 48 * time.Hour}[rng.IntN(4)] // 0: closed
		cs = append(cs, engine.Contact{Campaign: fmt.Sprintf("cmp_%d", i%7), User: id, Occurrence: "2026-11-28", Due: now, WindowEnd: now.Add(window)})
	}
	facts, err := e.db.ScanUserFacts(e.ctx, engine.FactsQuery{})
	if err != nil || len(facts) != n {
		t.Fatalf("scan: %d users, %v", len(facts), err)
	}
	outcomes := map[string]int{}
	for i, c := range cs {
		plan, err := e.svc.PlanDeliveries(e.ctx, []engine.Contact{c}, facts[i:i+1], rules[i], mcap)
		if err != nil {
			t.Fatal(err)
		}
		v := plan[0]
		a, err := e.svc.AttemptDelivery(e.ctx, c, rules[i])
		if err != nil {
			t.Fatal(err)
		}
		d := a.Delivery
		if v.Allow && noPoints[i] && rules[i].OfferType == "points" {
			outcomes["points despite the opt-out"]++
		}
		switch {
		case v.Allow:
			outcomes["sent"]++
			if !a.Send || d.Channel != v.Channel || d.ConsentRecordID != v.RecordID {
				t.Errorf("%s: planned a send by %s on %s; at send time %+v", c.User, v.Channel, v.RecordID, d)
			}
		case !v.DeferUntil.IsZero():
			outcomes["deferred "+v.Reason]++
			if d.Status != engine.DeliveryDeferred || d.Reason != v.Reason || !d.DeferredUntil.Equal(v.DeferUntil) {
				t.Errorf("%s: planned a deferral (%s until %s); at send time %+v", c.User, v.Reason, v.DeferUntil, d)
			}
		default:
			outcomes["suppressed "+v.Reason]++
			if d.Status != engine.DeliverySuppressed || d.Reason != v.Reason {
				t.Errorf("%s: planned suppressed %s; at send time %+v", c.User, v.Reason, d)
			}
		}
	}
	t.Logf("outcomes: %v", outcomes)
	for _, want := range []string{"sent", "deferred quiet_hours", "suppressed no_consent", "suppressed consent_withdrawn",
		"suppressed channel_disabled", "suppressed offer_type_opt_out", "suppressed minor", "suppressed window_passed"} {
		if outcomes[want] == 0 {
			t.Errorf("no generated case ended %s; the test misses it", want)
		}
	}
	if (outcomes["points despite the opt-out"] > 0) != replaced {
		t.Errorf("%d points offers planned despite the opt-out; the policy was replaced: %v",
			outcomes["points despite the opt-out"], replaced)
	}
}
