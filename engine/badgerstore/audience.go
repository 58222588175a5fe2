package badgerstore

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// UserBounds returns every n-th user id in id order, reading keys only.
func (db *DB) UserBounds(ctx context.Context, n int) ([]engine.UserID, error) {
	if n <= 0 {
		return nil, engine.Invalid("n", "must be positive")
	}
	var out []engine.UserID
	err := db.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pUser)})
		defer it.Close()
		i := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if i++; i%n != 0 {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			out = append(out, engine.UserID(it.Item().Key()[len(pUser):]))
		}
		// The last chunk runs to the end: a bound at the very last user
		// would name an empty chunk after it.
		if i > 0 && i%n == 0 {
			out = out[:len(out)-1]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("user bounds: %w", err)
	}
	return out, nil
}

// ScanUserFacts returns the facts of the users of q in one read
// transaction. Planning scans every user, so it reads by walking, not
// looking up: one iterator walks the users and others walk the ledger,
// the preferences and the recent sends beside it (all are in user order),
// each moving forward only, so every table block is read once, where a
// lookup per user read (and decompressed) blocks again and again.
func (db *DB) ScanUserFacts(ctx context.Context, q engine.FactsQuery) ([]engine.UserFacts, error) {
	after, upto, limit := q.After, q.Upto, q.Limit
	var out []engine.UserFacts
	start := key(pUser, string(after))
	if after != "" {
		start = append(start, 0) // just after after's key
	}
	code := purposeCodes[engine.PurposeMarketing]
	err := db.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pUser), PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		led := walk(txn, pConsent, start)
		defer led.Close()
		prefs := walk(txn, pPrefs, start)
		defer prefs.Close()
		recent := walk(txn, pRecentSends, start)
		defer recent.Close()
		var k []byte
		for it.Seek(start); it.Valid() && (limit <= 0 || len(out) < limit); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			id := engine.UserID(item.Key()[len(pUser):])
			if upto != "" && bytes.Compare([]byte(id), []byte(upto)) > 0 {
				return nil
			}
			var f engine.UserFacts
			if err := item.Value(func(v []byte) error { return unmarshal(item.Key(), v, &f.User) }); err != nil {
				return err
			}
			k = append(append(k[:0], pPrefs...), id...)
			if ok, err := valueAt(prefs, k, &f.Prefs); err != nil {
				return err
			} else if !ok {
				f.Prefs = engine.DefaultPreferences()
			}
			k = append(append(append(k[:0], pConsent...), id...), 0, code)
			seekForward(led, k)
			entries, err := ledgerHere(ctx, led, id, k)
			if err != nil {
				return err
			}
			for _, e := range entries {
				f.Records = append(f.Records, e.rec)
			}
			f.Categories = append(f.Categories, f.Prefs.Categories...)
			if q.Interests {
				in, err := getInterests(txn, id)
				if err != nil {
					return err
				}
				for _, t := range in.Tags {
					if c, ok := strings.CutPrefix(t.Tag, "category:"); ok {
						f.Categories = append(f.Categories, c)
					}
				}
			}
			k = append(append(k[:0], pRecentSends...), id...)
			if _, err := valueAt(recent, k, &f.Recent); err != nil {
				return err
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan user facts: %w", err)
	}
	return out, nil
}

// walk returns an iterator over prefix, at the first key of the user at
// start (a u/ key) or after.
func walk(txn *badger.Txn, prefix string, start []byte) *badger.Iterator {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
	it.Seek(append([]byte(prefix), start[len(pUser):]...))
	return it
}

// seekForward moves it forward to the first key at or after target: by
// stepping when target is near (the next user's keys usually are), by
// seeking otherwise. it must not be past target's range already, which
// holds while targets ascend.
func seekForward(it *badger.Iterator, target []byte) {
	for range 16 {
		if !it.Valid() || bytes.Compare(it.Item().Key(), target) >= 0 {
			return
		}
		it.Next()
	}
	it.Seek(target)
}

// valueAt decodes the JSON value of key k into v and reports true if k is
// there, moving it forward to it.
func valueAt(it *badger.Iterator, k []byte, v any) (bool, error) {
	seekForward(it, k)
	if !it.Valid() || !bytes.Equal(it.Item().Key(), k) {
		return false, nil
	}
	item := it.Item()
	return true, item.Value(func(b []byte) error { return unmarshal(item.Key(), b, v) })
}

var _ engine.AudienceStore = (*DB)(nil)
