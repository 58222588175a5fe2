package badgerstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// Interests returns the interest tags of id, heaviest first, and the tags
// the user deleted, in deletion order. Both slices are non-nil. Returns
// ErrNotFound for an unknown user.
func (db *DB) Interests(ctx context.Context, id engine.UserID) (engine.Interests, error) {
	var in engine.Interests
	err := db.view(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		var err error
		in, err = getInterests(txn, id)
		return err
	})
	if err != nil {
		return engine.Interests{}, fmt.Errorf("interests of %s: %w", id, err)
	}
	return in, nil
}

func getInterests(txn *badger.Txn, id engine.UserID) (engine.Interests, error) {
	var in engine.Interests
	err := getJSON(txn, userKey(pInterests, id), &in)
	if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return engine.Interests{}, err
	}
	if in.Tags == nil {
		in.Tags = []engine.InterestTag{}
	}
	if in.Deleted == nil {
		in.Deleted = []string{}
	}
	return in, nil
}

func putInterests(txn *badger.Txn, id engine.UserID, in engine.Interests) error {
	slices.SortFunc(in.Tags, func(a, b engine.InterestTag) int {
		if c := cmp.Compare(b.Weight, a.Weight); c != 0 {
			return c
		}
		return cmp.Compare(a.Tag, b.Tag)
	})
	return setJSON(txn, userKey(pInterests, id), in)
}

// DeleteInterest removes tag from the interests of id and adds it to the
// deleted list, so that it is never added again, and writes fx. Deleting a
// tag the user does not have still records it as deleted. Returns
// ErrNotFound for an unknown user and ErrInvalid for an empty tag.
func (db *DB) DeleteInterest(ctx context.Context, id engine.UserID, tag string, fx engine.Effects) error {
	if tag == "" {
		return engine.Invalid("tag", "is required")
	}
	err := db.updateInterests(ctx, id, func(txn *badger.Txn, in *engine.Interests) (bool, error) {
		in.Tags = slices.DeleteFunc(in.Tags, func(t engine.InterestTag) bool { return t.Tag == tag })
		if !slices.Contains(in.Deleted, tag) {
			in.Deleted = append(in.Deleted, tag)
		}
		return true, db.writeEffects(txn, fx)
	})
	if err != nil {
		return fmt.Errorf("delete interest of %s: %w", id, err)
	}
	return nil
}

// AddInterests adds each tag's weight to the interests of id, creating the
// tags it lacks, and never re-adds a tag the user deleted (those are
// skipped). A tag's UpdatedAt becomes the latest given. Returns ErrNotFound
// for an unknown user and ErrInvalid for an empty tag.
func (db *DB) AddInterests(ctx context.Context, id engine.UserID, tags []engine.InterestTag) error {
	for i, t := range tags {
		if t.Tag == "" {
			return engine.Invalid(fmt.Sprintf("tags[%d].tag", i), "is required")
		}
	}
	err := db.updateInterests(ctx, id, func(_ *badger.Txn, in *engine.Interests) (bool, error) {
		return addInterests(in, tags), nil
	})
	if err != nil {
		return fmt.Errorf("add interests of %s: %w", id, err)
	}
	return nil
}

// updateInterests runs fn on id's interests in a transaction, under id's
// lock, and stores them if fn reports a change.
func (db *DB) updateInterests(ctx context.Context, id engine.UserID, fn func(*badger.Txn, *engine.Interests) (bool, error)) error {
	defer db.lockUser(id)()
	return db.update(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		in, err := getInterests(txn, id)
		if err != nil {
			return err
		}
		changed, err := fn(txn, &in)
		if err != nil || !changed {
			return err
		}
		return putInterests(txn, id, in)
	})
}

// addInterests adds tags to in, skipping deleted ones, and reports whether
// in changed.
func addInterests(in *engine.Interests, tags []engine.InterestTag) bool {
	changed := false
	for _, t := range tags {
		if slices.Contains(in.Deleted, t.Tag) {
			continue
		}
		changed = true
		i := slices.IndexFunc(in.Tags, func(x engine.InterestTag) bool { return x.Tag == t.Tag })
		if i < 0 {
			in.Tags = append(in.Tags, t)
			continue
		}
		in.Tags[i].Weight += t.Weight
		if t.UpdatedAt.After(in.Tags[i].UpdatedAt) {
			in.Tags[i].UpdatedAt = t.UpdatedAt
		}
	}
	return changed
}
