package badgerstore_test

import (
	"cmp"
	"context"
	"math"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"heed/engine"
	"heed/engine/badgerstore"
)

func TestInterests(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	t1 := t0.Add(time.Hour)

	steps := []struct {
		name string
		do   func() error
		want engine.Interests
	}{
		{
			name: "none",
			do:   func() error { return nil },
			want: engine.Interests{Tags: []engine.InterestTag{}, Deleted: []string{}},
		},
		{
			name: "add",
			do: func() error {
				return db.AddInterests(ctx, "u1", []engine.InterestTag{
					{Tag: "category:shoes", Weight: 0.5, UpdatedAt: t0},
					{Tag: "brand:acme", Weight: 0.25, UpdatedAt: t0},
				})
			},
			want: engine.Interests{Tags: []engine.InterestTag{
				{Tag: "category:shoes", Weight: 0.5, UpdatedAt: t0},
				{Tag: "brand:acme", Weight: 0.25, UpdatedAt: t0},
			}, Deleted: []string{}},
		},
		{
			name: "add weight to an existing tag, the old weight decayed",
			do: func() error {
				return db.AddInterests(ctx, "u1", []engine.InterestTag{{Tag: "brand:acme", Weight: 0.5, UpdatedAt: t1}})
			},
			want: engine.Interests{Tags: []engine.InterestTag{
				{Tag: "brand:acme", Weight: engine.Decay(0.25, t0, t1) + 0.5, UpdatedAt: t1},
				{Tag: "category:shoes", Weight: 0.5, UpdatedAt: t0},
			}, Deleted: []string{}},
		},
		{
			name: "delete",
			do:   func() error { return db.DeleteInterest(ctx, "u1", "brand:acme", engine.Effects{}) },
			want: engine.Interests{Tags: []engine.InterestTag{
				{Tag: "category:shoes", Weight: 0.5, UpdatedAt: t0},
			}, Deleted: []string{"brand:acme"}},
		},
		{
			name: "a deleted tag is never re-added",
			do: func() error {
				return db.AddInterests(ctx, "u1", []engine.InterestTag{
					{Tag: "brand:acme", Weight: 5, UpdatedAt: t1},
					{Tag: "region:310000", Weight: 0.1, UpdatedAt: t1},
				})
			},
			want: engine.Interests{Tags: []engine.InterestTag{
				{Tag: "category:shoes", Weight: 0.5, UpdatedAt: t0},
				{Tag: "region:310000", Weight: 0.1, UpdatedAt: t1},
			}, Deleted: []string{"brand:acme"}},
		},
		{
			name: "delete a tag the user does not have, twice",
			do: func() error {
				if err := db.DeleteInterest(ctx, "u1", "category:toys", engine.Effects{}); err != nil {
					return err
				}
				return db.DeleteInterest(ctx, "u1", "category:toys", engine.Effects{})
			},
			want: engine.Interests{Tags: []engine.InterestTag{
				{Tag: "category:shoes", Weight: 0.5, UpdatedAt: t0},
				{Tag: "region:310000", Weight: 0.1, UpdatedAt: t1},
			}, Deleted: []string{"brand:acme", "category:toys"}},
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			got, err := db.Interests(ctx, "u1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff(s.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestInterestsErrors(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"read unknown user", func() error { _, err := db.Interests(ctx, "nobody"); return err }, engine.ErrNotFound},
		{"add to unknown user", func() error {
			return db.AddInterests(ctx, "nobody", []engine.InterestTag{{Tag: "a", Weight: 1}})
		}, engine.ErrNotFound},
		{"delete of unknown user", func() error { return db.DeleteInterest(ctx, "nobody", "a", engine.Effects{}) }, engine.ErrNotFound},
		{"add empty tag", func() error { return db.AddInterests(ctx, "u1", []engine.InterestTag{{Weight: 1}}) }, engine.ErrInvalid},
		{"delete empty tag", func() error { return db.DeleteInterest(ctx, "u1", "", engine.Effects{}) }, engine.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.do(), tt.want) })
	}
}

// TestInterestDeltas checks that interest tags added by events, written as
// deltas and folded on read or into t/<user>, read as if each batch had
// been added to the interests at once; that a deleted tag stays out; that
// a user never has many deltas; and that erasure and merge leave none.
func TestInterestDeltas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := mustOpen(t, badgerstore.Options{Dir: dir})
	for _, u := range []engine.UserID{"u1", "abs", "gone"} {
		mustUser(t, db, u)
	}
	want := map[engine.UserID]*engine.Interests{"u1": {}, "abs": {}, "gone": {}}
	tags := []string{"category:a", "category:b", "tag:x", "tag:y", "tag:z"}
	for i := range 40 {
		if i == 20 {
			if err := db.DeleteInterest(ctx, "u1", "tag:x", engine.Effects{}); err != nil {
				t.Fatal(err)
			}
			want["u1"].Tags = slices.DeleteFunc(want["u1"].Tags, func(t engine.InterestTag) bool { return t.Tag == "tag:x" })
			want["u1"].Deleted = append(want["u1"].Deleted, "tag:x")
		}
		var b engine.EventBatch
		for _, u := range []engine.UserID{"u1", "abs", "gone"} {
			at := t0.Add(time.Duration(i*7%40) * time.Hour)
			in := []engine.InterestTag{{Tag: tags[i%len(tags)], Weight: 0.2, UpdatedAt: at}, {Tag: tags[(i+2)%len(tags)], Weight: 1, UpdatedAt: at}}
			b.Users = append(b.Users, engine.UserEvents{User: u, Interests: in})
			want[u].Add(in...)
		}
		if err := db.AppendEvents(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	approx := gocmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a)) })
	byTag := cmpopts.SortSlices(func(a, b engine.InterestTag) bool { return a.Tag < b.Tag })
	for _, u := range []engine.UserID{"u1", "abs"} {
		got, err := db.Interests(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		w := *want[u]
		if w.Deleted == nil {
			w.Deleted = []string{}
		}
		if diff := gocmp.Diff(w, got, approx, byTag); diff != "" {
			t.Errorf("interests of %s (-want +got):\n%s", u, diff)
		}
		if !slices.IsSortedFunc(got.Tags, func(a, b engine.InterestTag) int { return cmp.Compare(b.Weight, a.Weight) }) {
			t.Errorf("interests of %s not heaviest first: %v", u, got.Tags)
		}
	}
	mustClose(t, db)
	if n := len(rawKeys(t, dir, "td/u1\x00")); n == 0 || n > 8 {
		t.Errorf("u1 has %d interest deltas; want 1 to 8", n)
	}

	db = mustOpen(t, badgerstore.Options{Dir: dir})
	if err := db.Erase(ctx, "gone", engine.ErasureProof{SubjectHash: "h"}, engine.Effects{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Merge(ctx, engine.Merge{Survivor: "u1", Absorbed: "abs"}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Interests(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(got.Tags, func(t engine.InterestTag) bool { return t.Tag == "tag:x" }) {
		t.Errorf("merged interests show the deleted tag: %v", got.Tags)
	}
	mustClose(t, db)
	for _, p := range []string{"td/abs\x00", "td/gone\x00", "t/abs", "t/gone"} {
		if keys := rawKeys(t, dir, p); len(keys) != 0 {
			t.Errorf("after erasure and merge: %q", keys)
		}
	}
}
