package policies_test

import (
	"context"
	"slices"
	"testing"

	"heed/engine"
	"heed/policies"
)

func TestAuthorize(t *testing.T) {
	tests := []struct {
		role           engine.Role
		action         string
		subject, owner engine.UserID
		allow          bool
		reason         string // the only reason of a denial
	}{
		{engine.RoleShopper, "consents.write", "u1", "u1", true, ""},
		{engine.RoleShopper, "users.export", "u1", "u1", true, ""},
		{engine.RoleShopper, "consents.write", "u1", "u2", false, "a shopper token reaches only its own user"},
		{engine.RoleShopper, "preferences.read", "u1", "", false, "a shopper token reaches only its own user"},
		{engine.RoleShopper, "users.read", "", "", false, "a shopper token reaches only its own user"},
		{engine.RoleShopper, "notices.read", "u1", "", true, ""},
		{engine.RoleShopper, "users.write", "u1", "u1", false, "role shopper may not users.write"},
		{engine.RoleShopper, "tokens.issue", "u1", "u1", false, "role shopper may not tokens.issue"},
		{engine.RoleStorefront, "consents.write", "", "u1", true, ""},
		{engine.RoleStorefront, "tokens.issue", "", "u1", true, ""},
		{engine.RoleStorefront, "events.write", "", "", true, ""},
		{engine.RoleStorefront, "policies.write", "", "", false, "role storefront may not policies.write"},
		{engine.RoleStorefront, "decisions.query", "", "", false, "role storefront may not decisions.query"},
		{engine.RoleStorefront, "campaigns.write", "", "", false, "role storefront may not campaigns.write"},
		{engine.RoleStorefront, "notices.write", "", "", false, "role storefront may not notices.write"},
		{engine.RoleMerchandiser, "campaigns.write", "", "", true, ""},
		{engine.RoleMerchandiser, "policies.read", "", "", true, ""},
		{engine.RoleMerchandiser, "users.read", "", "u1", false, "role merchandiser may not users.read"},
		{engine.RoleMarketing, "recommendations.read", "", "u1", true, ""},
		{engine.RoleMarketing, "consents.read", "", "u1", false, "role marketing may not consents.read"},
		{engine.RoleAdmin, "policies.write", "", "", true, ""},
		{engine.RoleAdmin, "users.erase", "", "u1", true, ""},
		{engine.RoleSystem, "campaigns.write", "", "", true, ""},
		{engine.RoleAdmin, "users.delete_everything", "", "u1", false, `unknown action "users.delete_everything"`},
		{"root", "users.read", "", "u1", false, `unknown role "root"`},
		{"", "users.read", "", "u1", false, `unknown role ""`},
	}
	s := newSet(t)
	ctx := context.Background()
	for _, tt := range tests {
		r := engine.AccessRequest{Role: tt.role, Subject: tt.subject, Action: tt.action, Owner: tt.owner}
		var want []string
		if tt.reason != "" {
			want = []string{tt.reason}
		}
		for _, path := range []string{"memoized", "uncached"} {
			authorize := s.Authorize
			if path == "uncached" {
				authorize = func(ctx context.Context, r engine.AccessRequest) (engine.Verdict, error) {
					return policies.AuthorizeUncached(s, ctx, r)
				}
			}
			// Twice: the second answer comes from the memo.
			for range 2 {
				v, err := authorize(ctx, r)
				if err != nil {
					t.Fatalf("%+v: %v", r, err)
				}
				if v.Allow != tt.allow || !slices.Equal(v.Reasons, want) {
					t.Errorf("%s %+v = %v %q, want %v %q", path, r, v.Allow, v.Reasons, tt.allow, want)
				}
			}
		}
	}
}

// TestAuthorizeMemoByRelation checks that the memo keys by how subject and
// owner relate, not by the ids: one user's verdict must not leak to another.
func TestAuthorizeMemoByRelation(t *testing.T) {
	s := newSet(t)
	ctx := context.Background()
	ask := func(subject, owner engine.UserID) bool {
		v, err := s.Authorize(ctx, engine.AccessRequest{Role: engine.RoleShopper, Subject: subject, Action: "consents.read", Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		return v.Allow
	}
	for _, c := range []struct {
		subject, owner engine.UserID
		allow          bool
	}{{"u1", "u1", true}, {"u2", "u1", false}, {"u2", "u2", true}, {"u3", "u1", false}, {"u1", "", false}, {"", "u1", false}} {
		if got := ask(c.subject, c.owner); got != c.allow {
			t.Errorf("shopper %q reading %q's consents: allow = %v, want %v", c.subject, c.owner, got, c.allow)
		}
	}
}

// TestVerdictReasonsAreCopies checks that a caller changing a memoized
// verdict's reasons does not change the next caller's.
func TestVerdictReasonsAreCopies(t *testing.T) {
	s := newSet(t)
	r := engine.AccessRequest{Role: engine.RoleStorefront, Action: "policies.write"}
	v, _ := s.Authorize(context.Background(), r)
	v.Reasons[0] = "changed"
	if v, _ := s.Authorize(context.Background(), r); v.Reasons[0] == "changed" {
		t.Error("the memo handed out its own reasons slice")
	}
}
