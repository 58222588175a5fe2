package campaigns

import (
	"slices"
	"strings"
	"time"

	"heed/engine"
)

// Matches reports whether the user f describes is in c's audience on date,
// the user's local date (its year, month and day are read as a civil
// date). The campaign's kind and every audience filter set must hold:
//
//   - first_purchase: no orders and no first purchase on record;
//   - vip: a tier at or above Audience.MinTier (above "none" if MinTier is
//     empty);
//   - birthday: the user's birthday falls on date (BirthdayOn), so a Feb 29
//     birthday is celebrated on Feb 28 in common years;
//   - segment: no rule of its own;
//   - Regions: the user's region is one of them or starts with one, so
//     "31" or "310000" match a user in "310000", and "CN" one in "CN-SH";
//   - MinTier: as for vip, whatever the kind;
//   - Categories: the user has one of them among f.Categories, ignoring
//     case;
//   - Touchpoints: the user was seen at one of them.
//
// An unknown kind matches no one.
func (c Campaign) Matches(f Facts, date time.Time) bool {
	u := f.User
	switch c.Kind {
	case KindFirstPurchase:
		if u.OrderCount != 0 || !u.FirstPurchaseAt.IsZero() {
			return false
		}
	case KindVIP:
		if c.Audience.MinTier == "" && tierIndex(u.Tier) < 1 {
			return false
		}
	case KindBirthday:
		if u.Birthday == "" {
			return false
		}
		b, err := engine.ParseBirthday(u.Birthday, date)
		if err != nil || !BirthdayOn(b, date) {
			return false
		}
	case KindSegment:
	default:
		return false
	}
	a := c.Audience
	if a.MinTier != "" {
		least := slices.Index(engine.Tiers, a.MinTier)
		if least < 0 || tierIndex(u.Tier) < least { // an unknown MinTier reaches no one
			return false
		}
	}
	if len(a.Regions) > 0 && !slices.ContainsFunc(a.Regions, func(r string) bool {
		return r != "" && strings.HasPrefix(u.Region, r)
	}) {
		return false
	}
	if len(a.Categories) > 0 && !slices.ContainsFunc(a.Categories, func(want string) bool {
		return slices.ContainsFunc(f.Categories, func(have string) bool { return strings.EqualFold(want, have) })
	}) {
		return false
	}
	if len(a.Touchpoints) > 0 && !slices.ContainsFunc(a.Touchpoints, func(tp engine.Touchpoint) bool {
		return slices.Contains(f.Touchpoints, tp)
	}) {
		return false
	}
	return true
}

// tierIndex returns tier's rank in engine.Tiers, lowest 0; no tier ranks
// as "none", and an unknown tier below every tier (-1), so that a
// campaign with a MinTier never reaches it.
func tierIndex(tier string) int {
	if tier == "" {
		return 0
	}
	return slices.Index(engine.Tiers, tier)
}
