package engine

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// InterestHalfLife is how fast interest tags fade: a tag's weight halves
// every 30 days without new behaviour behind it.
const InterestHalfLife = 30 * 24 * time.Hour

// Decay returns weight w, last updated at from, as it stands at to:
// w·2^(−(to−from)/InterestHalfLife). A to before from grows the weight back,
// so that contributions of different times can be summed at one reference
// time in any order.
func Decay(w float64, from, to time.Time) float64 {
	if w == 0 || from.Equal(to) || from.IsZero() || to.IsZero() {
		return w
	}
	return w * math.Exp2(-float64(to.Sub(from))/float64(InterestHalfLife))
}

// Add adds tags to in: a tag in in.Deleted is skipped (never re-added); a new
// tag is appended; an existing one becomes w·2^(−Δt/H) + delta at the later
// of the two times (an older delta is decayed to the tag's time instead).
// It reports whether in changed.
func (in *Interests) Add(tags ...InterestTag) bool {
	changed := false
	var at map[string]int // index of each tag in in.Tags; built for long lists
	if len(in.Tags)*len(tags) > 64 {
		at = make(map[string]int, len(in.Tags)+len(tags))
		for i, t := range in.Tags {
			at[t.Tag] = i
		}
	}
	for _, t := range tags {
		if slices.Contains(in.Deleted, t.Tag) {
			continue
		}
		changed = true
		i, ok := -1, false
		if at != nil {
			i, ok = at[t.Tag]
		} else {
			i = slices.IndexFunc(in.Tags, func(x InterestTag) bool { return x.Tag == t.Tag })
			ok = i >= 0
		}
		if !ok {
			if at != nil {
				at[t.Tag] = len(in.Tags)
			}
			in.Tags = append(in.Tags, t)
			continue
		}
		in.Tags[i] = addTag(in.Tags[i], t)
	}
	return changed
}

// addTag returns a + b, summed at the later of their times.
func addTag(a, b InterestTag) InterestTag {
	if b.UpdatedAt.After(a.UpdatedAt) {
		a.Weight = Decay(a.Weight, a.UpdatedAt, b.UpdatedAt) + b.Weight
		a.UpdatedAt = b.UpdatedAt
		return a
	}
	a.Weight += Decay(b.Weight, b.UpdatedAt, a.UpdatedAt)
	return a
}

// SumInterests sums tags by name at each name's latest time, in order of
// first appearance (how one batch's interest deltas become one per tag).
func SumInterests(tags []InterestTag) []InterestTag {
	out := make([]InterestTag, 0, len(tags))
	index := make(map[string]int, len(tags))
	for _, t := range tags {
		if i, ok := index[t.Tag]; ok {
			out[i] = addTag(out[i], t)
			continue
		}
		index[t.Tag] = len(out)
		out = append(out, t)
	}
	return out
}

// At returns a copy of in with every weight decayed to now, heaviest first
// (ties by tag): the weights as they stand now, which the API shows and
// recommendations use. Weights are stored as of each tag's UpdatedAt.
func (in Interests) At(now time.Time) Interests {
	out := Interests{Tags: make([]InterestTag, len(in.Tags)), Deleted: slices.Clone(in.Deleted)}
	for i, t := range in.Tags {
		if t.UpdatedAt.Before(now) {
			t.Weight = Decay(t.Weight, t.UpdatedAt, now)
		}
		out.Tags[i] = t
	}
	slices.SortFunc(out.Tags, func(a, b InterestTag) int {
		if c := cmp.Compare(b.Weight, a.Weight); c != 0 {
			return c
		}
		return cmp.Compare(a.Tag, b.Tag)
	})
	return out
}

// Interest weights an event adds to each interest tag of each item it is
// about (unfavorite and search add none).
var interestWeights = map[EventType]float64{
	EventPurchase:   1.0,
	EventFavorite:   0.6,
	EventCart:       0.4,
	EventView:       0.2,
	EventStoreVisit: 0.3,
}

// InterestWeight returns the weight an event of type t adds to each interest
// tag of the items it is about: purchase 1.0, favorite 0.6, cart 0.4,
// store_visit 0.3, view 0.2; unfavorite and search 0.
func InterestWeight(t EventType) float64 { return interestWeights[t] }
