package badgerstore

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

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

// DeletedInterests returns the tags id deleted, without folding the
// interest deltas (deletions are always in the base record, t/<user>).
// Returns ErrNotFound for an unknown user.
func (db *DB) DeletedInterests(ctx context.Context, id engine.UserID) ([]string, error) {
	var deleted []string
	err := db.view(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		var err error
		deleted, err = getDeletedInterests(txn, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("deleted interests of %s: %w", id, err)
	}
	return deleted, nil
}

func getDeletedInterests(txn *badger.Txn, id engine.UserID) ([]string, error) {
	var in engine.Interests
	k := userKey(pInterests, id)
	item, err := txn.Get(k)
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	err = item.Value(func(v []byte) error { return decodeInterests(k, v, &in) })
	return in.Deleted, err
}

func getInterests(txn *badger.Txn, id engine.UserID) (engine.Interests, error) {
	in, _, err := loadInterests(txn, id)
	return in, err
}

// loadInterests returns id's interests, t/<id> with the deltas td/<id>
// folded in (engine.Interests.Add: a deleted tag stays out), and the keys
// of those deltas, which a caller that writes t/<id> back deletes.
func loadInterests(txn *badger.Txn, id engine.UserID) (engine.Interests, [][]byte, error) {
	var in engine.Interests
	k := userKey(pInterests, id)
	item, err := txn.Get(k)
	switch {
	case err == nil:
		err = item.Value(func(v []byte) error { return decodeInterests(k, v, &in) })
		if err != nil {
			return engine.Interests{}, nil, err
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return engine.Interests{}, nil, err
	}
	keys, err := foldDeltas(txn, id, &in)
	if err != nil {
		return engine.Interests{}, nil, err
	}
	if in.Tags == nil {
		in.Tags = []engine.InterestTag{}
	}
	if in.Deleted == nil {
		in.Deleted = []string{}
	}
	return in, keys, nil
}

// foldDeltas adds id's interest deltas to in, oldest first, and returns
// their keys. in's tags stay heaviest first.
func foldDeltas(txn *badger.Txn, id engine.UserID, in *engine.Interests) ([][]byte, error) {
	prefix := userRange(pInterestDelta, id)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var keys [][]byte
	var delta engine.Interests
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		k := item.KeyCopy(nil)
		if err := item.Value(func(v []byte) error { return decodeInterests(k, v, &delta) }); err != nil {
			return nil, err
		}
		in.Add(delta.Tags...)
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		sortTags(in.Tags)
	}
	return keys, nil
}

// interestDeltaKey is td/<user>\x00<seq>.
func interestDeltaKey(b []byte, id engine.UserID, seq uint64) []byte {
	b = append(b, pInterestDelta...)
	b = append(b, id...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, seq)
}

// maxInterestDeltas is how many deltas a user's interests may have before
// AppendEvents folds them into t/<user> instead of adding another. It bounds
// what a read folds and what Erase and Merge delete in their bounded
// transaction (up to this many plus one per concurrent batch).
const maxInterestDeltas = 8

// deltaCounts counts, for the users AppendEvents saw since Open, their
// interest deltas (td/<user>), so that it need not count them in the store.
// A user not in the map is counted in the store the next time; any write
// that folds or deletes deltas other than AppendEvents forgets the user.
// The counts may fall behind the truth by the batches committed while one
// was read, which only delays a fold; they never miss a delta that
// AppendEvents wrote.
type deltaCounts struct {
	mu sync.Mutex
	m  map[engine.UserID]int // guarded by mu
}

// maxCountedUsers bounds deltaCounts; when it is full it starts afresh.
const maxCountedUsers = 1 << 20

func (c *deltaCounts) count(id engine.UserID) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[id]
	return n, ok
}

func (c *deltaCounts) set(id engine.UserID, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCountedUsers {
		c.m = make(map[engine.UserID]int)
	}
	c.m[id] = n
}

// wrote records a committed batch's write for id: a delta, or a fold.
func (c *deltaCounts) wrote(id engine.UserID, folded bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[id]
	switch {
	case !ok:
	case folded:
		c.m[id] = 0
	default:
		c.m[id] = n + 1
	}
}

// forget drops ids' counts.
func (c *deltaCounts) forget(ids ...engine.UserID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		delete(c.m, id)
	}
}

// deleteInterestDeltas deletes id's interest deltas (at most about
// maxInterestDeltas, so a bounded transaction may).
func deleteInterestDeltas(txn *badger.Txn, id engine.UserID) error {
	prefix := userRange(pInterestDelta, id)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	var keys [][]byte
	for it.Rewind(); it.Valid(); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	it.Close()
	return deleteKeys(txn, keys)
}

// deleteKeys deletes keys in txn.
func deleteKeys(txn *badger.Txn, keys [][]byte) error {
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func putInterests(txn *badger.Txn, id engine.UserID, in engine.Interests) error {
	sortTags(in.Tags)
	return txn.Set(userKey(pInterests, id), appendInterests(nil, &in))
}

// sortTags orders tags heaviest first (as stored), ties by tag.
func sortTags(tags []engine.InterestTag) {
	slices.SortFunc(tags, func(a, b engine.InterestTag) int {
		if c := cmp.Compare(b.Weight, a.Weight); c != 0 {
			return c
		}
		return cmp.Compare(a.Tag, b.Tag)
	})
}

// Interests are rewritten by every batch of events that feeds them, so they
// have a binary encoding (a fifth of the JSON's decoding time). Version 1:
//
//	0x01
//	uvarint number of tags, then per tag: string Tag, 8-byte little-endian
//	        IEEE 754 Weight, time UpdatedAt
//	uvarint number of deleted tags, then each as a string
//
// Strings and times are as in the consent codec (codec.go). A value that
// starts with '{' is the JSON of engine.Interests that earlier builds wrote;
// it is read as such and rewritten in binary on the next change.
const interestsCodecV1 = 1

func appendInterests(b []byte, in *engine.Interests) []byte {
	b = append(b, interestsCodecV1)
	b = binary.AppendUvarint(b, uint64(len(in.Tags)))
	for _, t := range in.Tags {
		b = appendString(b, t.Tag)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(t.Weight))
		b = appendTime(b, t.UpdatedAt)
	}
	b = binary.AppendUvarint(b, uint64(len(in.Deleted)))
	for _, d := range in.Deleted {
		b = appendString(b, d)
	}
	return b
}

// decodeInterests decodes v, the value of key k. It copies what it keeps.
func decodeInterests(k, v []byte, in *engine.Interests) error {
	if len(v) > 0 && v[0] == '{' {
		return unmarshal(k, v, in)
	}
	corrupt := fmt.Errorf("badgerstore: corrupt interests %q", k)
	if len(v) == 0 || v[0] != interestsCodecV1 {
		return corrupt
	}
	d := decoder{b: v[1:]}
	count := func() int {
		n, w := binary.Uvarint(d.b)
		if w <= 0 || n > uint64(len(d.b)) {
			d.err, d.b = errCorrupt, nil
			return 0
		}
		d.b = d.b[w:]
		return int(n)
	}
	in.Tags = make([]engine.InterestTag, count())
	for i := range in.Tags {
		t := &in.Tags[i]
		t.Tag = d.string()
		if d.err != nil || len(d.b) < 8 {
			return corrupt
		}
		t.Weight = math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		t.UpdatedAt = d.time()
	}
	in.Deleted = make([]string, count())
	for i := range in.Deleted {
		in.Deleted[i] = d.string()
	}
	if d.err != nil || len(d.b) != 0 {
		return corrupt
	}
	return nil
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
// skipped). Weights decay (engine.Interests.Add): an existing tag becomes
// w·2^(−Δt/H) + delta, and its UpdatedAt the latest given. Returns ErrNotFound
// for an unknown user and ErrInvalid for an empty tag.
func (db *DB) AddInterests(ctx context.Context, id engine.UserID, tags []engine.InterestTag) error {
	for i, t := range tags {
		if t.Tag == "" {
			return engine.Invalid(fmt.Sprintf("tags[%d].tag", i), "is required")
		}
	}
	err := db.updateInterests(ctx, id, func(_ *badger.Txn, in *engine.Interests) (bool, error) {
		return in.Add(tags...), nil
	})
	if err != nil {
		return fmt.Errorf("add interests of %s: %w", id, err)
	}
	return nil
}

// updateInterests runs fn on id's interests in a transaction, under id's
// lock, and stores them if fn reports a change or deltas were folded in
// (which it then deletes).
func (db *DB) updateInterests(ctx context.Context, id engine.UserID, fn func(*badger.Txn, *engine.Interests) (bool, error)) error {
	defer db.lockUser(id)()
	defer db.deltas.forget(id)
	return db.update(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		in, deltas, err := loadInterests(txn, id)
		if err != nil {
			return err
		}
		changed, err := fn(txn, &in)
		if err != nil || (!changed && len(deltas) == 0) {
			return err
		}
		if err := deleteKeys(txn, deltas); err != nil {
			return err
		}
		return putInterests(txn, id, in)
	})
}
