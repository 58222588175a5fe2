package badgerstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// PutNotice publishes n after every notice published before. Returns
// ErrConflict if a notice with the same purpose and version exists, and
// ErrInvalid for an unknown purpose or an empty version.
func (db *DB) PutNotice(ctx context.Context, n engine.Notice) error {
	if !n.Purpose.Valid() {
		return engine.Invalid("purpose", "unknown purpose %q; want one of %v", n.Purpose, engine.Purposes)
	}
	if n.Version == "" {
		return engine.Invalid("version", "is required")
	}
	nk := key(pNoticeKey, string(n.Purpose), n.Version)
	err := db.update(ctx, func(txn *badger.Txn) error {
		dup, err := exists(txn, nk)
		if err != nil {
			return err
		}
		if dup {
			return fmt.Errorf("notice %s %s exists: %w", n.Purpose, n.Version, engine.ErrConflict)
		}
		if err := txn.Set(nk, nil); err != nil {
			return err
		}
		last, err := lastNoticeSeq(txn)
		if err != nil {
			return err
		}
		return setJSON(txn, binary.BigEndian.AppendUint64([]byte(pNotice), db.seq.next(last)), n)
	})
	// Drop the cache even on failure: the commit may have happened.
	db.noticeMu.Lock()
	db.noticeGen++
	db.noticeCache = nil
	db.noticeMu.Unlock()
	if err != nil {
		return fmt.Errorf("put notice: %w", err)
	}
	return nil
}

// lastNoticeSeq returns the sequence of the latest notice, or 0, so that a
// clock set back between runs cannot publish a notice before older ones.
func lastNoticeSeq(txn *badger.Txn) (uint64, error) {
	prefix := []byte(pNotice)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	defer it.Close()
	it.Seek(append(slices.Clip(prefix), "\xff\xff\xff\xff\xff\xff\xff\xff\xff"...))
	if !it.Valid() {
		return 0, nil
	}
	k := it.Item().Key()
	if len(k) != len(prefix)+8 {
		return 0, fmt.Errorf("badgerstore: corrupt notice key %q", k)
	}
	return binary.BigEndian.Uint64(k[len(prefix):]), nil
}

// Notices returns every notice in publication order. They are read on every
// consent check, so they are cached in memory; the process owns the
// database, and PutNotice drops the cache.
func (db *DB) Notices(ctx context.Context) ([]engine.Notice, error) {
	db.noticeMu.Lock()
	cached, gen := db.noticeCache, db.noticeGen
	db.noticeMu.Unlock()
	if cached != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if db.closed.Load() {
			return nil, errClosed
		}
		return slices.Clone(cached), nil
	}
	out := []engine.Notice{}
	err := db.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pNotice)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			var n engine.Notice
			if err := item.Value(func(v []byte) error { return unmarshal(item.Key(), v, &n) }); err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	db.noticeMu.Lock()
	if db.noticeGen == gen { // no PutNotice since the read began
		db.noticeCache = out
	}
	db.noticeMu.Unlock()
	return slices.Clone(out), nil
}

// PutPolicyModule stores the text of the policy module name, replacing it.
// Returns ErrInvalid for an empty name.
func (db *DB) PutPolicyModule(ctx context.Context, name, text string) error {
	if name == "" {
		return engine.Invalid("name", "is required")
	}
	err := db.update(ctx, func(txn *badger.Txn) error {
		return txn.Set(key(pPolicy, name), []byte(text))
	})
	if err != nil {
		return fmt.Errorf("put policy module %s: %w", name, err)
	}
	return nil
}

// PolicyModules returns every stored policy module by name; the map is
// empty when there are none.
func (db *DB) PolicyModules(ctx context.Context) (map[string]string, error) {
	out := make(map[string]string)
	err := db.view(ctx, func(txn *badger.Txn) error {
		prefix := []byte(pPolicy)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			out[string(item.Key()[len(prefix):])] = string(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policy modules: %w", err)
	}
	return out, nil
}
