package badgerstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

func TestNotices(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	got, err := db.Notices(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("Notices of an empty store = %v, %v; want none", got, err)
	}
	n := func(p engine.Purpose, v string, reconsent bool, minutes int) engine.Notice {
		return engine.Notice{Purpose: p, Version: v, TextURL: "https://shop.example/privacy/" + v,
			RequiresReconsent: reconsent, PublishedAt: t0.Add(time.Duration(minutes) * time.Minute)}
	}
	var published []engine.Notice
	tests := []struct {
		name   string
		notice engine.Notice
		want   error
	}{
		{"first", n(engine.PurposeMarketing, "2026-01", false, 0), nil},
		{"other purpose", n(engine.PurposeAnalytics, "2026-01", false, 1), nil},
		// Publication order, not PublishedAt order, is what counts.
		{"earlier date, published later", n(engine.PurposeMarketing, "2026-03", true, -60), nil},
		{"same purpose and version", n(engine.PurposeMarketing, "2026-01", true, 5), engine.ErrConflict},
		{"unknown purpose", n("spam", "1", false, 0), engine.ErrInvalid},
		{"no version", n(engine.PurposeAnalytics, "", false, 0), engine.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.PutNotice(ctx, tt.notice)
			if tt.want != nil {
				wantErr(t, err, tt.want)
			} else if err != nil {
				t.Fatal(err)
			} else {
				published = append(published, tt.notice)
			}
			// Read after every step: the cache must follow each write.
			got, err := db.Notices(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(published, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("callers cannot change the cache", func(t *testing.T) {
		got, _ := db.Notices(ctx)
		got[0].Version = "changed"
		again, _ := db.Notices(ctx)
		if again[0].Version != "2026-01" {
			t.Errorf("Notices()[0].Version = %q after a caller changed its copy", again[0].Version)
		}
	})
}

func TestPolicyModules(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	got, err := db.PolicyModules(ctx)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("PolicyModules of an empty store = %#v, %v; want an empty map", got, err)
	}
	steps := []struct {
		name, text string
		want       map[string]string
	}{
		{"authz.rego", "package heed.authz\nallow := false", map[string]string{"authz.rego": "package heed.authz\nallow := false"}},
		{"consent.rego", "package heed.consent", map[string]string{"authz.rego": "package heed.authz\nallow := false", "consent.rego": "package heed.consent"}},
		{"authz.rego", "package heed.authz\nallow := true", map[string]string{"authz.rego": "package heed.authz\nallow := true", "consent.rego": "package heed.consent"}},
	}
	for _, s := range steps {
		if err := db.PutPolicyModule(ctx, s.name, s.text); err != nil {
			t.Fatal(err)
		}
		got, err := db.PolicyModules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("after putting %s (-want +got):\n%s", s.name, diff)
		}
	}
	wantErr(t, db.PutPolicyModule(ctx, "", "package x"), engine.ErrInvalid)
}

// TestCanceledContext checks that reads and writes give up on a canceled
// context and write nothing.
func TestCanceledContext(t *testing.T) {
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]func() error{
		"Consents": func() error { _, err := db.Consents(ctx, "u1", ""); return err },
		"AppendConsents": func() error {
			return db.AppendConsents(ctx, "u1", []engine.ConsentRecord{rec("c1", engine.PurposeAnalytics, engine.StatusGranted, 0)}, engine.Effects{})
		},
		"Activity":   func() error { _, _, err := db.Activity(ctx, "u1", "", 10); return err },
		"DueOutbox":  func() error { _, err := db.DueOutbox(ctx, t0, 10); return err },
		"Erase":      func() error { return db.Erase(ctx, "u1", engine.ErasureProof{SubjectHash: "h"}, engine.Effects{}) },
		"Notices":    func() error { _, err := db.Notices(ctx); return err },
		"Ping":       func() error { return db.Ping(ctx) },
		"PutUser":    func() error { _, err := db.PutUser(ctx, "u2", engine.Profile{}, t0); return err },
		"Preference": func() error { _, err := db.Preferences(ctx, "u1"); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want context.Canceled", name, err)
		}
	}
	if got := mustConsents(t, db, "u1", ""); len(got) != 0 {
		t.Errorf("ledger = %v, want empty", ids(got))
	}
	if _, err := db.User(context.Background(), "u1"); err != nil {
		t.Errorf("u1 after a canceled erasure: %v", err)
	}
}
