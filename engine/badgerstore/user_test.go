package badgerstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

func TestPutUser(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	p1 := engine.Profile{Name: "Li Lei", Region: "310000", TimeZone: "Asia/Shanghai", Locale: "zh-CN", Birthday: "02-29", Tier: "gold"}
	got, err := db.PutUser(ctx, "u1", p1, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := engine.User{ID: "u1", Name: "Li Lei", Region: "310000", TimeZone: "Asia/Shanghai", Locale: "zh-CN",
		Birthday: "02-29", Tier: "gold", CreatedAt: t0, UpdatedAt: t0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}

	// An update replaces the profile and keeps CreatedAt and identities.
	phone := engine.Identity{Type: "phone", Value: "+8613800000000"}
	if err := db.AddIdentity(ctx, "u1", phone, engine.Effects{}); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Hour)
	p2 := engine.Profile{Region: "110000", Minor: true, GuardianConsent: true}
	got, err = db.PutUser(ctx, "u1", p2, t1)
	if err != nil {
		t.Fatal(err)
	}
	want = engine.User{ID: "u1", Region: "110000", Minor: true, GuardianConsent: true,
		Identities: []engine.Identity{phone}, CreatedAt: t0, UpdatedAt: t1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("updated (-want +got):\n%s", diff)
	}
	got, err = db.User(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("User (-want +got):\n%s", diff)
	}

	for name, tc := range map[string]struct {
		id engine.UserID
		p  engine.Profile
	}{
		"empty id":     {"", engine.Profile{}},
		"slash in id":  {"a/b", engine.Profile{}},
		"NUL in id":    {"a\x00b", engine.Profile{}},
		"bad timezone": {"u2", engine.Profile{TimeZone: "Mars/Olympus"}},
		"bad tier":     {"u2", engine.Profile{Tier: "platinum"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := db.PutUser(ctx, tc.id, tc.p, t0)
			wantErr(t, err, engine.ErrInvalid)
			if _, err := db.User(ctx, tc.id); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("User after invalid PutUser: err = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestUserNotFound(t *testing.T) {
	db := mustOpenDB(t)
	_, err := db.User(context.Background(), "nobody")
	wantErr(t, err, engine.ErrNotFound)
}

func TestAddIdentity(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	mustUser(t, db, "u2")
	phone := engine.Identity{Type: "phone", Value: "+8613800000000"}
	email := engine.Identity{Type: "email", Value: "li@example.com"}
	linked := engine.ActivityEntry{ID: "act_1", User: "u1", At: t0, Action: engine.ActionIdentityLinked, Actor: "storefront"}

	tests := []struct {
		name      string
		user      engine.UserID
		ident     engine.Identity
		wantKind  error
		wantOwner engine.UserID // with an IdentityConflict
	}{
		{name: "new", user: "u1", ident: phone},
		{name: "second identity", user: "u1", ident: email},
		{name: "again to owner is a no-op", user: "u1", ident: phone},
		{name: "held by another user", user: "u2", ident: phone, wantKind: engine.ErrConflict, wantOwner: "u1"},
		{name: "unknown user", user: "nobody", ident: engine.Identity{Type: "device", Value: "d1"}, wantKind: engine.ErrNotFound},
		{name: "unknown type", user: "u1", ident: engine.Identity{Type: "fax", Value: "1"}, wantKind: engine.ErrInvalid},
		{name: "empty value", user: "u1", ident: engine.Identity{Type: "phone"}, wantKind: engine.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.AddIdentity(ctx, tt.user, tt.ident, engine.Effects{Activity: []engine.ActivityEntry{linked}})
			if tt.wantKind == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tt.wantKind)
			var ic *engine.IdentityConflict
			if tt.wantOwner != "" && (!errors.As(err, &ic) || ic.Owner != tt.wantOwner) {
				t.Errorf("err = %v, want an IdentityConflict with owner %s", err, tt.wantOwner)
			}
		})
	}

	u, err := db.User(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]engine.Identity{email, phone}, u.Identities); diff != "" {
		t.Errorf("identities of u1 (-want +got):\n%s", diff)
	}
	// Effects are written by the two links only, not by the no-op.
	entries, _, err := db.Activity(ctx, "u1", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("activity entries = %d, want 2 (one per new link)", len(entries))
	}

	for _, tt := range []struct {
		ident engine.Identity
		want  engine.UserID
		kind  error
	}{
		{phone, "u1", nil},
		{email, "u1", nil},
		{engine.Identity{Type: "phone", Value: "+1"}, "", engine.ErrNotFound},
	} {
		got, err := db.ResolveIdentity(ctx, tt.ident)
		if tt.kind != nil {
			wantErr(t, err, tt.kind)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ResolveIdentity(%v) = %q, %v; want %q", tt.ident, got, err, tt.want)
		}
	}
}
