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
// transaction: one iterator walks the users and a second seeks through the
// ledger beside it (both are in user order).
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
		led := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pConsent)})
		defer led.Close()
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
			var err error
			if f.Prefs, err = getPreferences(txn, id); err != nil {
				return err
			}
			entries, err := ledgerEntries(ctx, led, id, append(userRange(pConsent, id), code))
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
			if f.Recent, err = getRecent(txn, id); err != nil {
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

var _ engine.AudienceStore = (*DB)(nil)
