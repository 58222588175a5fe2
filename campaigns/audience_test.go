package campaigns_test

import (
	"testing"
	"time"

	"heed/campaigns"
	"heed/engine"
)

func TestMatches(t *testing.T) {
	date := func(s string) time.Time {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	kind := func(k campaigns.Kind, a campaigns.Audience) campaigns.Campaign {
		return campaigns.Campaign{Kind: k, Audience: a}
	}
	user := func(edit func(u *engine.User)) campaigns.Facts {
		f := campaigns.Facts{User: engine.User{ID: "u1", Region: "310100", Tier: "gold", OrderCount: 3}}
		edit(&f.User)
		return f
	}
	none := func(*engine.User) {}
	segment := campaigns.Audience{}
	gold := campaigns.Audience{MinTier: "gold"}
	tests := []struct {
		name string
		c    campaigns.Campaign
		f    campaigns.Facts
		date string
		want bool
	}{
		// first_purchase
		{"first purchase: no orders", kind(campaigns.KindFirstPurchase, segment), user(func(u *engine.User) { u.OrderCount = 0 }), "2027-03-01", true},
		{"first purchase: has orders", kind(campaigns.KindFirstPurchase, segment), user(none), "2027-03-01", false},
		{"first purchase: purchase on record", kind(campaigns.KindFirstPurchase, segment), user(func(u *engine.User) {
			u.OrderCount = 0
			u.FirstPurchaseAt = date("2026-01-01")
		}), "2027-03-01", false},

		// vip
		{"vip: gold for gold", kind(campaigns.KindVIP, gold), user(none), "2027-03-01", true},
		{"vip: vip for gold", kind(campaigns.KindVIP, gold), user(func(u *engine.User) { u.Tier = "vip" }), "2027-03-01", true},
		{"vip: silver for gold", kind(campaigns.KindVIP, gold), user(func(u *engine.User) { u.Tier = "silver" }), "2027-03-01", false},
		{"vip: no tier for gold", kind(campaigns.KindVIP, gold), user(func(u *engine.User) { u.Tier = "" }), "2027-03-01", false},
		{"vip: unknown tier", kind(campaigns.KindVIP, gold), user(func(u *engine.User) { u.Tier = "platinum" }), "2027-03-01", false},
		{"vip without min tier: silver", kind(campaigns.KindVIP, segment), user(func(u *engine.User) { u.Tier = "silver" }), "2027-03-01", true},
		{"vip without min tier: none", kind(campaigns.KindVIP, segment), user(func(u *engine.User) { u.Tier = "none" }), "2027-03-01", false},
		{"vip with unknown min tier", kind(campaigns.KindVIP, campaigns.Audience{MinTier: "platinum"}), user(func(u *engine.User) { u.Tier = "platinum" }), "2027-03-01", false},

		// birthday
		{"birthday today", kind(campaigns.KindBirthday, segment), user(func(u *engine.User) { u.Birthday = "1990-03-01" }), "2027-03-01", true},
		{"birthday tomorrow", kind(campaigns.KindBirthday, segment), user(func(u *engine.User) { u.Birthday = "03-02" }), "2027-03-01", false},
		{"Feb 29 on Feb 28 2027", kind(campaigns.KindBirthday, segment), user(func(u *engine.User) { u.Birthday = "02-29" }), "2027-02-28", true},
		{"Feb 29 not on Mar 1 2027", kind(campaigns.KindBirthday, segment), user(func(u *engine.User) { u.Birthday = "02-29" }), "2027-03-01", false},
		{"Feb 29 on Feb 29 2028", kind(campaigns.KindBirthday, segment), user(func(u *engine.User) { u.Birthday = "2000-02-29" }), "2028-02-29", true},
		{"Feb 29 not on Feb 28 2028", kind(campaigns.KindBirthday, segment), user(func(u *engine.User) { u.Birthday = "2000-02-29" }), "2028-02-28", false},
		{"no birthday", kind(campaigns.KindBirthday, segment), user(none), "2027-03-01", false},
		{"bad birthday", kind(campaigns.KindBirthday, segment), user(func(u *engine.User) { u.Birthday = "03/01" }), "2027-03-01", false},
		{"birthday after date", kind(campaigns.KindBirthday, segment), user(func(u *engine.User) { u.Birthday = "2028-03-01" }), "2027-03-01", false},

		// segment and filters, for any kind
		{"segment: everyone", kind(campaigns.KindSegment, segment), user(none), "2027-03-01", true},
		{"unknown kind: no one", kind("loyal", segment), user(none), "2027-03-01", false},
		{"min tier on a segment", kind(campaigns.KindSegment, campaigns.Audience{MinTier: "vip"}), user(none), "2027-03-01", false},
		{"min tier none on a segment", kind(campaigns.KindSegment, campaigns.Audience{MinTier: "none"}), user(func(u *engine.User) { u.Tier = "" }), "2027-03-01", true},
		{"region exact", kind(campaigns.KindSegment, campaigns.Audience{Regions: []string{"440000", "310100"}}), user(none), "2027-03-01", true},
		{"region prefix", kind(campaigns.KindSegment, campaigns.Audience{Regions: []string{"31"}}), user(none), "2027-03-01", true},
		{"region not a prefix", kind(campaigns.KindSegment, campaigns.Audience{Regions: []string{"310000"}}), user(none), "2027-03-01", false},
		{"region unknown", kind(campaigns.KindSegment, campaigns.Audience{Regions: []string{"31"}}), user(func(u *engine.User) { u.Region = "" }), "2027-03-01", false},
		{"categories overlap ignoring case", kind(campaigns.KindSegment, campaigns.Audience{Categories: []string{"Tea", "shoes"}}),
			campaigns.Facts{User: engine.User{}, Categories: []string{"books", "tea"}}, "2027-03-01", true},
		{"categories disjoint", kind(campaigns.KindSegment, campaigns.Audience{Categories: []string{"tea"}}),
			campaigns.Facts{User: engine.User{}, Categories: []string{"books"}}, "2027-03-01", false},
		{"touchpoints overlap", kind(campaigns.KindSegment, campaigns.Audience{Touchpoints: []engine.Touchpoint{engine.TouchpointStore, engine.TouchpointApp}}),
			campaigns.Facts{Touchpoints: []engine.Touchpoint{engine.TouchpointApp}}, "2027-03-01", true},
		{"touchpoints disjoint", kind(campaigns.KindSegment, campaigns.Audience{Touchpoints: []engine.Touchpoint{engine.TouchpointStore}}),
			campaigns.Facts{Touchpoints: []engine.Touchpoint{engine.TouchpointApp}}, "2027-03-01", false},
		{"every filter must hold", kind(campaigns.KindVIP, campaigns.Audience{MinTier: "silver", Regions: []string{"31"}, Categories: []string{"tea"}}),
			campaigns.Facts{User: engine.User{Tier: "gold", Region: "310100"}, Categories: []string{"coffee"}}, "2027-03-01", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Matches(tt.f, date(tt.date)); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}
