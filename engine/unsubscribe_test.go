package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"heed/engine"
	"heed/engine/badgerstore"
	"heed/policies"
)

// newUnsubscribeEnv is newEnv with a token secret, acting as the storefront.
func newUnsubscribeEnv(tb testing.TB, secret string) *env {
	tb.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	db, err := badgerstore.Open(ctx, badgerstore.Options{InMemory: true}, log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	pol, err := policies.New(ctx, policies.Options{}, log)
	if err != nil {
		tb.Fatal(err)
	}
	svc := engine.NewService(db, pol, engine.Options{ProofKey: []byte("k"), Tokens: engine.Tokens{Secret: []byte(secret)},
		Now: func() time.Time { return now }}, log)
	return &env{svc: svc, db: db, ctx: engine.WithActor(ctx, engine.Actor{Role: engine.RoleStorefront})}
}

func marketing(ch engine.Channel, st engine.Status) engine.ConsentRecord {
	return engine.ConsentRecord{Purpose: engine.PurposeMarketing, Channel: ch, Status: st, Source: "app"}
}

func delivery(user engine.UserID, ch engine.Channel) engine.Delivery {
	return engine.Delivery{ID: "dlv_1", Contact: engine.Contact{Campaign: "cmp_1", User: user, Occurrence: "2026-11-28"},
		Channel: ch, Status: engine.DeliverySent}
}

func (e *env) allowed(tb testing.TB, id engine.UserID, ch engine.Channel) engine.ConsentResult {
	tb.Helper()
	res, _, err := e.svc.CheckConsent(e.ctx, id, engine.Scope{Purpose: engine.PurposeMarketing, Channel: ch})
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

func TestUnsubscribe(t *testing.T) {
	e := newUnsubscribeEnv(t, "secret")
	e.user(t, "u1", marketing(engine.ChannelEmail, engine.StatusGranted), marketing(engine.ChannelPush, engine.StatusGranted))
	tok := e.svc.UnsubscribeToken(delivery("u1", engine.ChannelEmail))
	if !strings.HasPrefix(tok, engine.UnsubscribePrefix) {
		t.Fatalf("token %q lacks the prefix %q", tok, engine.UnsubscribePrefix)
	}
	if ch, err := e.svc.UnsubscribeInfo(tok); err != nil || ch != engine.ChannelEmail {
		t.Fatalf("UnsubscribeInfo = %q, %v; want email", ch, err)
	}

	// The caller's context carries no actor: the link acts as the shopper.
	r, err := e.svc.Unsubscribe(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.User != "u1" || r.Purpose != engine.PurposeMarketing || r.Channel != engine.ChannelEmail ||
		r.Status != engine.StatusWithdrawn || r.Source != engine.SourceUnsubscribeLink || r.Touchpoint != "" || !r.RecordedAt.Equal(now) {
		t.Errorf("record = %+v", r)
	}
	var ev map[string]string
	if err := json.Unmarshal(r.Evidence, &ev); err != nil || ev["campaign_id"] != "cmp_1" || ev["delivery_id"] != "dlv_1" {
		t.Errorf("evidence = %s (%v)", r.Evidence, err)
	}
	if res := e.allowed(t, "u1", engine.ChannelEmail); res.Allowed || res.Status != engine.StatusWithdrawn {
		t.Errorf("email after unsubscribing: %+v, want withdrawn", res)
	}
	if res := e.allowed(t, "u1", engine.ChannelPush); !res.Allowed {
		t.Errorf("push after unsubscribing from email: %+v, want still granted", res)
	}
	entries, _, err := e.svc.Activity(e.ctx, "u1", "", 50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range entries {
		if a.Action == engine.ActionConsentChange && a.Channel == engine.ChannelEmail && a.Reason == string(engine.StatusWithdrawn) {
			found = true
			if a.Actor != string(engine.RoleShopper) || a.DecisionID == "" {
				t.Errorf("usage-log entry %+v: want the shopper as actor and a decision id", a)
			}
		}
	}
	if !found {
		t.Errorf("no consent change in the usage log: %+v", entries)
	}

	// A second click records a second withdrawal.
	if _, err := e.svc.Unsubscribe(context.Background(), tok); err != nil {
		t.Errorf("second click: %v", err)
	}
}

func TestUnsubscribeWithoutChannelWithdrawsEveryChannel(t *testing.T) {
	e := newUnsubscribeEnv(t, "secret")
	e.user(t, "u1", marketing(engine.ChannelEmail, engine.StatusGranted), marketing(engine.ChannelSMS, engine.StatusGranted))
	tok := e.svc.UnsubscribeToken(delivery("u1", ""))
	if ch, err := e.svc.UnsubscribeInfo(tok); err != nil || ch != "" {
		t.Fatalf("UnsubscribeInfo = %q, %v; want every channel", ch, err)
	}
	if _, err := e.svc.Unsubscribe(e.ctx, tok); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []engine.Channel{engine.ChannelEmail, engine.ChannelSMS} {
		if res := e.allowed(t, "u1", ch); res.Allowed {
			t.Errorf("%s: %+v, want withdrawn", ch, res)
		}
	}
}

func TestUnsubscribeBadToken(t *testing.T) {
	e := newUnsubscribeEnv(t, "secret")
	e.user(t, "u1", marketing(engine.ChannelEmail, engine.StatusGranted))
	good := e.svc.UnsubscribeToken(delivery("u1", engine.ChannelEmail))
	other := newUnsubscribeEnv(t, "another secret").svc.UnsubscribeToken(delivery("u1", engine.ChannelEmail))
	shopper, _, err := e.svc.IssueToken(e.ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	payload, sig, _ := strings.Cut(strings.TrimPrefix(good, engine.UnsubscribePrefix), ".")
	forged := engine.UnsubscribePrefix + strings.TrimSuffix(payload, payload[len(payload)-2:]) + "xy." + sig
	for name, tok := range map[string]string{
		"Empty":          "",
		"NoPrefix":       strings.TrimPrefix(good, engine.UnsubscribePrefix),
		"NoSignature":    engine.UnsubscribePrefix + payload,
		"Forged":         forged,
		"OtherSecret":    other,
		"ShopperToken":   shopper,
		"ShopperAsUnsub": engine.UnsubscribePrefix + strings.TrimPrefix(shopper, engine.TokenPrefix),
		"Garbage":        engine.UnsubscribePrefix + "!!!." + sig,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := e.svc.UnsubscribeInfo(tok); !errors.Is(err, engine.ErrBadToken) {
				t.Errorf("UnsubscribeInfo: %v, want ErrBadToken", err)
			}
			if _, err := e.svc.Unsubscribe(e.ctx, tok); !errors.Is(err, engine.ErrBadToken) {
				t.Errorf("Unsubscribe: %v, want ErrBadToken", err)
			}
		})
	}
	if res := e.allowed(t, "u1", engine.ChannelEmail); !res.Allowed {
		t.Errorf("a bad token changed the ledger: %+v", res)
	}
}

func TestUnsubscribeErasedUser(t *testing.T) {
	e := newUnsubscribeEnv(t, "secret")
	e.user(t, "u1", marketing(engine.ChannelEmail, engine.StatusGranted))
	tok := e.svc.UnsubscribeToken(delivery("u1", engine.ChannelEmail))
	if _, err := e.svc.Erase(e.ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Unsubscribe(context.Background(), tok); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Unsubscribe of an erased user: %v, want ErrNotFound", err)
	}
	if _, err := e.svc.Unsubscribe(context.Background(), e.svc.UnsubscribeToken(delivery("nobody", engine.ChannelEmail))); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Unsubscribe of an unknown user: %v, want ErrNotFound", err)
	}
}
