package policies_test

import (
	"context"
	"slices"
	"testing"

	"heed/engine"
)

func TestCollect(t *testing.T) {
	tests := []struct {
		event             string
		signal, analytics bool
		allow             bool
		reasons           []string
	}{
		{"purchase", false, false, true, []string{"contract"}},
		{"purchase", true, true, true, []string{"contract"}},
		{"view", false, false, false, []string{"no consent to collect view events (neither the signal nor analytics is allowed)"}},
		{"view", true, false, true, []string{"signal_consent"}},
		{"favorite", false, true, true, []string{"analytics_consent"}},
		{"cart", true, true, true, []string{"analytics_consent", "signal_consent"}},
		{"store_visit", false, false, false, []string{"no consent to collect store_visit events (neither the signal nor analytics is allowed)"}},
		{"search", false, true, true, []string{"analytics_consent"}},
		{"unfavorite", true, false, true, []string{"signal_consent"}},
		{"teleport", true, true, false, []string{`unknown event type "teleport"`}},
		{"", true, true, false, []string{`unknown event type ""`}},
	}
	s := newSet(t)
	for _, tt := range tests {
		r := engine.CollectRequest{EventType: tt.event, Touchpoint: engine.TouchpointApp,
			Signal: engine.SignalBrowsing, SignalAllowed: tt.signal, AnalyticsAllowed: tt.analytics}
		v, err := s.Collect(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if v.Allow != tt.allow || !slices.Equal(v.Reasons, tt.reasons) {
			t.Errorf("Collect(%+v) = %v %q, want %v %q", r, v.Allow, v.Reasons, tt.allow, tt.reasons)
		}
	}
}

func TestConsentWrite(t *testing.T) {
	guardian := []byte(`{"guardian": {"name": "Li Wei", "relation": "mother"}}`)
	grant := func(actor string, evidence []byte) engine.ConsentRecord {
		return engine.ConsentRecord{Purpose: engine.PurposeMarketing, Status: engine.StatusGranted, Actor: actor, Evidence: evidence}
	}
	withdrawal := engine.ConsentRecord{Purpose: engine.PurposeMarketing, Status: engine.StatusWithdrawn}
	tests := []struct {
		name    string
		subject engine.Subject
		records []engine.ConsentRecord
		allow   bool
		reasons []string
	}{
		{"adult grants", engine.Subject{}, []engine.ConsentRecord{grant("", nil)}, true, nil},
		{"minor, guardian with evidence", engine.Subject{Minor: true},
			[]engine.ConsentRecord{grant(engine.ActorGuardian, guardian)}, true, nil},
		{"minor withdraws alone", engine.Subject{Minor: true}, []engine.ConsentRecord{withdrawal}, true, nil},
		{"minor grants alone", engine.Subject{Minor: true},
			[]engine.ConsentRecord{withdrawal, grant(engine.ActorSelf, guardian)}, false,
			[]string{"records[1]: a minor's grant must be recorded by the guardian, with guardian evidence"}},
		{"guardian without evidence", engine.Subject{Minor: true, GuardianConsent: true},
			[]engine.ConsentRecord{grant(engine.ActorGuardian, []byte(`{"guardian": ""}`)), grant(engine.ActorGuardian, nil)}, false,
			[]string{"records[0]: a minor's grant must be recorded by the guardian, with guardian evidence",
				"records[1]: a minor's grant must be recorded by the guardian, with guardian evidence"}},
		{"batch too large to memoize", engine.Subject{Minor: true},
			[]engine.ConsentRecord{withdrawal, withdrawal, withdrawal, withdrawal, grant(engine.ActorSelf, nil)}, false,
			[]string{"records[4]: a minor's grant must be recorded by the guardian, with guardian evidence"}},
	}
	s := newSet(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := engine.ConsentWrite{Role: engine.RoleStorefront, Subject: tt.subject, Records: tt.records}
			for round := range 2 { // the second answer of a small batch comes from the memo
				v, err := s.ConsentWrite(context.Background(), w)
				if err != nil {
					t.Fatal(err)
				}
				if v.Allow != tt.allow || !slices.Equal(v.Reasons, tt.reasons) {
					t.Errorf("round %d: ConsentWrite = %v %q, want %v %q", round, v.Allow, v.Reasons, tt.allow, tt.reasons)
				}
			}
		})
	}
}
