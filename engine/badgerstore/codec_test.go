package badgerstore

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

var sampleRecord = engine.ConsentRecord{
	ID: "con_019a2b3c4d5e6f708192a3b4c5", Purpose: engine.PurposeMarketing, Channel: engine.ChannelEmail,
	Touchpoint: engine.TouchpointApp, Status: engine.StatusGranted, NoticeVersion: "2026-01", Source: "app",
	Evidence:   json.RawMessage(`{"screen":"settings/privacy","ip":"10.0.0.1"}`),
	RecordedAt: time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC),
}

func TestConsentCodec(t *testing.T) {
	tests := map[string]engine.ConsentRecord{
		"zero":    {},
		"sample":  sampleRecord,
		"expires": {ID: "x", Status: engine.StatusDenied, ExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 1, time.UTC), RecordedAt: time.Unix(0, 0)},
		"old":     {ID: "y", RecordedAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), MergedFrom: "u0"},
		"before 1970": {ID: "z", Recipient: "Acme", Actor: engine.ActorGuardian,
			RecordedAt: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)},
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			var got engine.ConsentRecord
			if err := decodeConsent(appendConsent(nil, &r), &got); err != nil {
				t.Fatal(err)
			}
			r.Purpose = "" // kept in the key, not the value
			if diff := cmp.Diff(r, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("corrupt", func(t *testing.T) {
		b := appendConsent(nil, &sampleRecord)
		for _, bad := range [][]byte{nil, {2}, b[:len(b)-1], append(b, 0)} {
			var got engine.ConsentRecord
			if err := decodeConsent(bad, &got); err == nil {
				t.Errorf("decodeConsent(%q) succeeded", bad)
			}
		}
	})
}

func TestTimeKeyOrder(t *testing.T) {
	times := []time.Time{{}, time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, -1), time.Unix(0, 0), time.Unix(0, 1), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i := 1; i < len(times); i++ {
		if timeKey(times[i-1]) >= timeKey(times[i]) {
			t.Errorf("timeKey(%v) >= timeKey(%v)", times[i-1], times[i])
		}
	}
	if got := timeFromKey(timeKey(times[6])); !got.Equal(times[6]) {
		t.Errorf("timeFromKey(timeKey(%v)) = %v", times[6], got)
	}
}

// TestLogDecisionDropsWhenFull checks LogDecision, with no wait, and a
// writer that does not keep up: it neither blocks nor keeps what it drops.
func TestLogDecisionDropsWhenFull(t *testing.T) {
	db := &DB{log: slog.New(slog.DiscardHandler)}
	db.dec.q = make(chan queuedDecision, 2) // no writer
	db.dec.pending = make(map[string][]byte)
	for _, id := range []string{"d1", "d2", "d3", "d4", "d5"} {
		db.LogDecision(engine.Decision{ID: id})
	}
	if got := db.DroppedDecisions(); got != 3 {
		t.Errorf("DroppedDecisions = %d, want 3", got)
	}
	if len(db.dec.pending) != 2 || db.dec.pending["d1"] == nil || db.dec.pending["d2"] == nil {
		t.Errorf("pending = %v, want d1 and d2", db.dec.pending)
	}
}

// TestLogDecisionWaitsForRoom: with a wait, a full queue makes LogDecision
// wait for the writer instead of dropping.
func TestLogDecisionWaitsForRoom(t *testing.T) {
	db := &DB{log: slog.New(slog.DiscardHandler)}
	db.dec.q = make(chan queuedDecision, 1)
	db.dec.wait = time.Minute
	db.dec.pending = make(map[string][]byte)
	go func() {
		for range 3 {
			time.Sleep(10 * time.Millisecond)
			<-db.dec.q // a slow writer
		}
	}()
	for _, id := range []string{"d1", "d2", "d3"} {
		db.LogDecision(engine.Decision{ID: id})
	}
	if got := db.DroppedDecisions(); got != 0 {
		t.Errorf("DroppedDecisions = %d, want 0", got)
	}
}

// BenchmarkConsentCodec compares the ledger's binary encoding with JSON.
func BenchmarkConsentCodec(b *testing.B) {
	r := sampleRecord
	r.User = "user-000001"
	js, _ := json.Marshal(r)
	bin := appendConsent(nil, &r)
	b.Logf("encoded size: binary %d bytes, JSON %d bytes", len(bin), len(js))
	b.Run("binary/encode", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = appendConsent(buf[:0], &r)
		}
	})
	b.Run("binary/decode", func(b *testing.B) {
		for b.Loop() {
			var got engine.ConsentRecord
			if err := decodeConsent(bin, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json/encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json/decode", func(b *testing.B) {
		for b.Loop() {
			var got engine.ConsentRecord
			if err := json.Unmarshal(js, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestInterestsCodec(t *testing.T) {
	in := engine.Interests{
		Tags: []engine.InterestTag{{Tag: "category:shoes", Weight: 1.25, UpdatedAt: time.Date(2026, 3, 1, 10, 0, 0, 5, time.UTC)},
			{Tag: "tag:x", Weight: 0}},
		Deleted: []string{"brand:acme", ""},
	}
	var got engine.Interests
	if err := decodeInterests([]byte("t/u"), appendInterests(nil, &in), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("binary (-want +got):\n%s", diff)
	}
	old, _ := json.Marshal(in) // what earlier builds stored
	got = engine.Interests{}
	if err := decodeInterests([]byte("t/u"), old, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	for _, bad := range [][]byte{nil, {2}, {1, 5}, appendInterests(nil, &in)[:10]} {
		if err := decodeInterests([]byte("t/u"), bad, &got); err == nil {
			t.Errorf("decode %v: no error", bad)
		}
	}
}

func TestEventCodec(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 123, time.UTC)
	tests := map[string]engine.Event{
		"view": {ID: "evt_1", Type: engine.EventView, User: "u1", Item: "sku-1", Touchpoint: engine.TouchpointApp, Region: "310000", OccurredAt: at},
		"purchase": {ID: "evt_2", Type: engine.EventPurchase, User: "u\u00e9", Order: "o-1", OccurredAt: at,
			Items: []engine.LineItem{{Item: "a", Quantity: 2, Price: 9.99}, {Item: "b", Quantity: 1, Price: 0}}},
		"search": {ID: "evt_3", Type: engine.EventSearch, User: "u", Query: "red shoes", OccurredAt: at},
		"redeemed": {ID: "evt_4", Type: engine.EventPurchase, User: "u", OfferCode: "SAVE50", OccurredAt: at,
			Items: []engine.LineItem{{Item: "a", Quantity: 1, Price: 300}}},
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			var got engine.Event
			k := eventKey(nil, e.User, e.OccurredAt, 42)
			if err := decodeEvent(k, appendEvent(nil, &e), &got, ""); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(e, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	e := tests["purchase"]
	v := appendEvent(nil, &e)
	for _, bad := range [][]byte{nil, {2}, {3}, v[:len(v)-1], append(v, 0)} {
		if err := decodeEvent(eventKey(nil, "u", at, 1), bad, new(engine.Event), ""); err == nil {
			t.Errorf("decode %v: no error", bad)
		}
	}
}

func TestDecodeSubject(t *testing.T) {
	for _, u := range []engine.User{
		{ID: "u1"},
		{ID: "u2", Minor: true},
		{ID: "u3", Minor: true, GuardianConsent: true},
		{ID: "u4", Name: `"minor":true,"guardian_consent":true`, Tier: `x","minor":true`},
	} {
		v, err := json.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		var got engine.Subject
		if !decodeSubject(v, &got) {
			t.Errorf("decodeSubject(%s) cannot tell", v)
		}
		if want := u.Subject(); got != want {
			t.Errorf("decodeSubject(%s) = %+v; want %+v", v, got, want)
		}
	}
	for _, v := range []string{``, `[]`, `{"minor":1}`, `{"minor":true}`, `{"minor":true,"guardian_consent":false,"minor":false}`} {
		if decodeSubject([]byte(v), new(engine.Subject)) {
			t.Errorf("decodeSubject(%s) tells; want fallback to json.Unmarshal", v)
		}
	}
}
