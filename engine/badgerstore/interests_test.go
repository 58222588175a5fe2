package badgerstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
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
			if diff := cmp.Diff(s.want, got); diff != "" {
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
