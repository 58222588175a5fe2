package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConsentRecordAndRead(t *testing.T) {
	h := newHarness(t)
	h.mustUser("c1", nil)
	before := time.Now().Add(-time.Second)
	recs := h.mustConsent("c1",
		map[string]any{"purpose": "marketing", "channel": "email", "touchpoint": "app", "status": "granted",
			"notice_version": "2026-01", "source": "app", "evidence": map[string]any{"screen": "signup"},
			"expires_at": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)},
		map[string]any{"purpose": "personalization", "signal": "browsing", "status": "denied"},
		map[string]any{"purpose": "third_party_sharing", "recipient": "Acme Logistics", "status": "granted"},
	)
	if len(recs) != 3 {
		t.Fatalf("%d records returned", len(recs))
	}
	for _, r := range recs {
		at, err := time.Parse(time.RFC3339Nano, r["recorded_at"].(string))
		if r["id"] == "" || err != nil || at.Before(before) || r["user_id"] != "c1" {
			t.Errorf("stored record %v", r)
		}
	}

	r := h.get(userPath("c1", "/consents"), storeKey)
	want(t, r, http.StatusOK)
	var eff struct {
		Effective []map[string]any `json:"effective"`
	}
	r.decode(t, &eff)
	if len(eff.Effective) != 3 || eff.Effective[0]["status"] != "granted" || eff.Effective[0]["channel"] != "email" ||
		eff.Effective[1]["status"] != "denied" {
		t.Errorf("effective: %s", r.body)
	}

	r = h.get(userPath("c1", "/consents/check?purpose=marketing&channel=email&touchpoint=app"), storeKey)
	want(t, r, http.StatusOK)
	c := r.json(t)
	if c["allowed"] != true || c["reason"] != "granted" || c["status"] != "granted" || c["record_id"] != recs[0]["id"] ||
		c["since"] != recs[0]["recorded_at"] || !strings.HasPrefix(c["decision_id"].(string), "dec_") {
		t.Errorf("check: %s", r.body)
	}
	r = h.get(userPath("c1", "/consents/check?purpose=marketing&channel=sms"), storeKey)
	want(t, r, http.StatusOK)
	if c := r.json(t); c["allowed"] != false || c["reason"] != "no_consent" || c["status"] != "none" {
		t.Errorf("check without a record: %s", r.body)
	}

	hist := h.history("c1")
	if len(hist) != 3 || hist[0]["id"] != recs[0]["id"] || hist[2]["id"] != recs[2]["id"] {
		t.Errorf("history: %v", hist)
	}

	r = h.get(userPath("c1", "/consents/", recs[1]["id"].(string)), storeKey)
	want(t, r, http.StatusOK)
	if r.json(t)["signal"] != "browsing" {
		t.Errorf("one record: %s", r.body)
	}
	wantProblem(t, h.get(userPath("c1", "/consents/con_unknown"), storeKey), http.StatusNotFound)

	// A withdrawal takes effect on the next check.
	h.mustConsent("c1", map[string]any{"purpose": "marketing", "status": "withdrawn"})
	r = h.get(userPath("c1", "/consents/check?purpose=marketing&channel=email&touchpoint=app"), storeKey)
	if c := r.json(t); c["allowed"] != false || c["reason"] != "withdrawn" {
		t.Errorf("check after withdrawal: %s", r.body)
	}
}

func TestConsentInvalid(t *testing.T) {
	h := newHarness(t)
	h.mustUser("c2", nil)
	ok := map[string]any{"purpose": "analytics", "status": "granted"}
	tests := []struct {
		name   string
		body   any
		fields []string
	}{
		{"unknown purpose", batch(map[string]any{"purpose": "spying", "status": "granted"}), []string{"records[0].purpose"}},
		{"unknown channel", batch(map[string]any{"purpose": "marketing", "channel": "fax", "status": "granted"}), []string{"records[0].channel"}},
		{"unknown signal", batch(map[string]any{"purpose": "personalization", "signal": "mood", "status": "granted"}), []string{"records[0].signal"}},
		{"unknown touchpoint", batch(map[string]any{"purpose": "analytics", "touchpoint": "tv", "status": "granted"}), []string{"records[0].touchpoint"}},
		{"unknown status", batch(map[string]any{"purpose": "analytics", "status": "maybe"}), []string{"records[0].status"}},
		{"channel on personalization", batch(map[string]any{"purpose": "personalization", "channel": "email", "status": "granted"}), []string{"records[0].channel"}},
		{"signal on marketing", batch(map[string]any{"purpose": "marketing", "signal": "browsing", "status": "granted"}), []string{"records[0].signal"}},
		{"recipient missing", batch(map[string]any{"purpose": "third_party_sharing", "status": "granted"}), []string{"records[0].recipient"}},
		{"recipient on analytics", batch(map[string]any{"purpose": "analytics", "recipient": "Acme", "status": "granted"}), []string{"records[0].recipient"}},
		{"expiry in the past", batch(map[string]any{"purpose": "analytics", "status": "granted", "expires_at": "2001-01-01T00:00:00Z"}), []string{"records[0].expires_at"}},
		{"expiry not a time", batch(map[string]any{"purpose": "analytics", "status": "granted", "expires_at": "tomorrow"}), []string{"records[0].expires_at"}},
		{"evidence not an object", batch(map[string]any{"purpose": "analytics", "status": "granted", "evidence": []int{1}}), []string{"records[0].evidence"}},
		{"wrong type in a record", batch(ok, map[string]any{"purpose": "analytics", "status": 1}), []string{"records[1].status"}},
		{"unknown field in a record", batch(ok, map[string]any{"purpose": "analytics", "status": "granted", "id": "mine"}), []string{"records[1].id"}},
		{"record not an object", `{"records": [7]}`, []string{"records[0]"}},
		{"two bad records", batch(map[string]any{"purpose": "x", "status": "granted"}, ok, map[string]any{"purpose": "analytics"}),
			[]string{"records[0].purpose", "records[2].status"}},
		{"one bad among good", batch(ok, ok, map[string]any{"purpose": "marketing", "channel": "pigeon", "status": "granted"}, ok),
			[]string{"records[2].channel"}},
		{"no records", `{"records": []}`, []string{"records"}},
		{"records missing", `{}`, []string{"records"}},
		{"records not a list", `{"records": {}}`, []string{"records"}},
		{"unknown top-level field", `{"records": [], "user": "c2"}`, []string{"user"}},
		{"malformed JSON", `{"records": [`, []string{"body"}},
		{"empty body", ``, []string{"body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(req{method: "POST", path: userPath("c2", "/consents"), auth: storeKey, body: tt.body})
			wantProblem(t, r, http.StatusBadRequest, tt.fields...)
			if n := len(h.history("c2")); n != 0 {
				t.Errorf("a rejected batch wrote %d records", n)
			}
		})
	}
}

func batch(records ...map[string]any) map[string]any {
	return map[string]any{"records": records}
}

func TestConsentCheckInvalid(t *testing.T) {
	h := newHarness(t)
	h.mustUser("c3", nil)
	for q, field := range map[string]string{
		"":                                     "purpose",
		"?purpose=spying":                      "purpose",
		"?purpose=marketing&channel=fax":       "channel",
		"?purpose=analytics&channel=email":     "channel",
		"?purpose=personalization&signal=mood": "signal",
		"?purpose=analytics&touchpoint=tv":     "touchpoint",
	} {
		wantProblem(t, h.get(userPath("c3", "/consents/check"+q), storeKey), http.StatusBadRequest, field)
	}
}

func TestConsentMinorNeedsGuardian(t *testing.T) {
	h := newHarness(t)
	h.mustUser("kid", map[string]any{"minor": true, "guardian_consent": true})
	r := h.do(req{method: "POST", path: userPath("kid", "/consents"), auth: storeKey,
		body: batch(map[string]any{"purpose": "marketing", "channel": "push", "status": "granted"})})
	p := wantProblem(t, r, http.StatusForbidden)
	if id, _ := p["decision_id"].(string); !strings.HasPrefix(id, "dec_") {
		t.Errorf("no decision id: %s", r.body)
	}
	if n := len(h.history("kid")); n != 0 {
		t.Errorf("a denied grant wrote %d records", n)
	}
	h.mustConsent("kid", map[string]any{"purpose": "marketing", "channel": "push", "status": "granted",
		"actor": "guardian", "evidence": map[string]any{"guardian": "parent-1"}})
}

// The ledger is append-only: the API never changes or deletes a record.
func TestConsentMutationNotAllowed(t *testing.T) {
	h := newHarness(t)
	h.mustUser("c4", nil)
	rec := h.mustConsent("c4", map[string]any{"purpose": "analytics", "status": "granted"})[0]
	for _, tt := range []struct{ method, path, allow string }{
		{"PUT", "/consents", "GET, POST"},
		{"PATCH", "/consents", "GET, POST"},
		{"DELETE", "/consents", "GET, POST"},
		{"PUT", "/consents/history", "GET"},
		{"DELETE", "/consents/history", "GET"},
		{"POST", "/consents/history", "GET"},
		{"PUT", "/consents/" + rec["id"].(string), "GET"},
		{"PATCH", "/consents/" + rec["id"].(string), "GET"},
		{"DELETE", "/consents/" + rec["id"].(string), "GET"},
		{"DELETE", "/consents/check", "GET"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			for _, auth := range []string{adminKey, ""} {
				r := h.do(req{method: tt.method, path: userPath("c4", tt.path), auth: auth, body: batch()})
				p := wantProblem(t, r, http.StatusMethodNotAllowed)
				if problemType(p) != "method-not-allowed" {
					t.Errorf("type %v", p["type"])
				}
				if got := sortedAllow(r.header.Get("Allow")); got != tt.allow {
					t.Errorf("Allow %q, want %q", got, tt.allow)
				}
			}
		})
	}
	if n := len(h.history("c4")); n != 1 {
		t.Errorf("history has %d records, want 1", n)
	}
}

func sortedAllow(s string) string {
	ms := strings.Split(s, ", ")
	slices.Sort(ms)
	return strings.Join(ms, ", ")
}

func TestNotices(t *testing.T) {
	h := newHarness(t)
	h.mustUser("n1", nil)
	h.mustConsent("n1", map[string]any{"purpose": "marketing", "channel": "email", "status": "granted", "notice_version": "2026-01"})

	r := h.do(req{method: "PUT", path: "/v1/notices/marketing", auth: adminKey,
		body: map[string]any{"version": "2026-03", "text_url": "https://shop.example/privacy/2026-03", "requires_reconsent": true}})
	want(t, r, http.StatusCreated)
	if n := r.json(t); n["purpose"] != "marketing" || n["version"] != "2026-03" || n["requires_reconsent"] != true {
		t.Errorf("notice: %s", r.body)
	}
	r = h.get("/v1/notices", storeKey)
	want(t, r, http.StatusOK)
	if ns := r.json(t)["notices"].([]any); len(ns) != 1 {
		t.Errorf("notices: %s", r.body)
	}

	r = h.get(userPath("n1", "/consents"), storeKey)
	if !strings.Contains(string(r.body), `"status":"needs_reconsent"`) {
		t.Errorf("after a notice requiring re-consent: %s", r.body)
	}
	h.mustConsent("n1", map[string]any{"purpose": "marketing", "channel": "email", "status": "granted", "notice_version": "2026-03"})
	r = h.get(userPath("n1", "/consents/check?purpose=marketing&channel=email"), storeKey)
	if r.json(t)["allowed"] != true {
		t.Errorf("after re-consent: %s", r.body)
	}
	// A grant under a version never published is refused.
	r = h.do(req{method: "POST", path: userPath("n1", "/consents"), auth: storeKey,
		body: batch(map[string]any{"purpose": "marketing", "status": "granted", "notice_version": "1999"})})
	wantProblem(t, r, http.StatusBadRequest, "records[0].notice_version")

	wantProblem(t, h.do(req{method: "PUT", path: "/v1/notices/spying", auth: adminKey, body: map[string]any{"version": "1"}}),
		http.StatusBadRequest, "purpose")
	wantProblem(t, h.do(req{method: "PUT", path: "/v1/notices/marketing", auth: adminKey, body: map[string]any{}}),
		http.StatusBadRequest, "version")
	wantProblem(t, h.do(req{method: "PUT", path: "/v1/notices/marketing", auth: storeKey, body: map[string]any{"version": "x"}}),
		http.StatusForbidden)
}
