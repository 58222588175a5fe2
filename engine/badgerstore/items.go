package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// itemChunk bounds the items one PutItems transaction writes, so that the
// largest batch (engine.MaxItemsPerBatch) stays within Badger's limit on
// one transaction's size.
const itemChunk = 256

// PutItems creates or replaces items (it/<id>, JSON), on disk when it
// returns. A batch larger than itemChunk is written in several
// transactions: after a crash part of it may be stored, and writing the
// batch again repairs that (a put is idempotent). Returns ErrInvalid for an
// item without an id.
func (db *DB) PutItems(ctx context.Context, items []engine.Item) error {
	for i, it := range items {
		if it.ID == "" {
			return engine.Invalid(fmt.Sprintf("items[%d].id", i), "is required")
		}
	}
	for len(items) > 0 {
		chunk := items[:min(len(items), itemChunk)]
		items = items[len(chunk):]
		err := db.update(ctx, func(txn *badger.Txn) error {
			for _, it := range chunk {
				if err := setJSON(txn, key(pItem, string(it.ID)), it); err != nil {
					return err
				}
			}
			return nil
		})
		db.items.forget(chunk) // written or not: the cache reads them again
		if err != nil {
			return fmt.Errorf("put items: %w", err)
		}
	}
	return nil
}

// Items returns the items of ids that exist, by id; unknown ids are left
// out. Items read recently come from a cache (see itemCache).
func (db *DB) Items(ctx context.Context, ids []engine.ItemID) (map[engine.ItemID]engine.Item, error) {
	out := make(map[engine.ItemID]engine.Item, len(ids))
	missing, gen := db.items.get(ids, out)
	if len(missing) == 0 {
		return out, nil
	}
	read := make([]engine.Item, 0, len(missing))
	err := db.view(ctx, func(txn *badger.Txn) error {
		for _, id := range missing {
			var it engine.Item
			switch err := getJSON(txn, key(pItem, string(id)), &it); {
			case err == nil:
				read = append(read, it)
			case !isNotFound(err):
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("items: %w", err)
	}
	db.items.put(gen, read)
	for _, it := range read {
		out[it.ID] = it
	}
	return out, nil
}

// maxCachedItems bounds the itemCache; when it is full it starts afresh.
const maxCachedItems = 1 << 17

// An itemCache holds catalog items as last read, so that validating a
// batch of events (which names up to a few thousand items) decodes none
// of the items it read before. PutItems forgets the items it writes after
// writing them; the generation keeps a read that began before from putting
// back what it read.
type itemCache struct {
	mu  sync.RWMutex
	gen uint64                        // guarded by mu; bumped by forget
	m   map[engine.ItemID]engine.Item // guarded by mu
}

// get adds the cached items of ids to out and returns the ids it lacks
// (once each, "" left out) and the generation to give put.
func (c *itemCache) get(ids []engine.ItemID, out map[engine.ItemID]engine.Item) ([]engine.ItemID, uint64) {
	var missing []engine.ItemID
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, id := range ids {
		if _, done := out[id]; done || id == "" {
			continue
		}
		if it, ok := c.m[id]; ok {
			out[id] = cloneItem(it)
			continue
		}
		missing = append(missing, id)
	}
	slices.Sort(missing)
	return slices.Compact(missing), c.gen
}

// put caches items read from the store at generation gen, unless forget
// ran since.
func (c *itemCache) put(gen uint64, items []engine.Item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.m == nil || len(c.m)+len(items) > maxCachedItems {
		c.m = make(map[engine.ItemID]engine.Item, len(items))
	}
	for _, it := range items {
		c.m[it.ID] = cloneItem(it)
	}
}

// forget drops items from the cache.
func (c *itemCache) forget(items []engine.Item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, it := range items {
		delete(c.m, it.ID)
	}
}

// cloneItem returns it with slices of its own, so that the cache and its
// callers share none.
func cloneItem(it engine.Item) engine.Item {
	it.Tags, it.Regions = slices.Clone(it.Tags), slices.Clone(it.Regions)
	return it
}

// scanChunk bounds the keys one read transaction of a scan visits; a scan
// yields each chunk after its transaction ends, so a slow consumer holds
// no transaction open.
const scanChunk = 4096

// ScanItems yields every item in id order, then stops; on an error it
// yields the error once and stops. It checks ctx between items.
func (db *DB) ScanItems(ctx context.Context) iter.Seq2[engine.Item, error] {
	return func(yield func(engine.Item, error) bool) {
		for v, err := range db.scan(ctx, []byte(pItem)) {
			if err != nil {
				yield(engine.Item{}, fmt.Errorf("scan items: %w", err))
				return
			}
			var it engine.Item
			if err := unmarshal(v.key, v.val, &it); err != nil {
				yield(engine.Item{}, err)
				return
			}
			if !yield(it, nil) {
				return
			}
		}
	}
}

// A kv is a key and value copied out of a transaction.
type kv struct{ key, val []byte }

// scan yields the keys and values under prefix in key order, reading
// scanChunk of them per read transaction.
func (db *DB) scan(ctx context.Context, prefix []byte) iter.Seq2[kv, error] {
	return func(yield func(kv, error) bool) {
		start := prefix
		for {
			var page []kv
			err := db.view(ctx, func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
				defer it.Close()
				for it.Seek(start); it.Valid() && len(page) < scanChunk; it.Next() {
					if err := ctx.Err(); err != nil {
						return err
					}
					item := it.Item()
					v, err := item.ValueCopy(nil)
					if err != nil {
						return err
					}
					page = append(page, kv{item.KeyCopy(nil), v})
				}
				return nil
			})
			if err != nil {
				yield(kv{}, err)
				return
			}
			for _, p := range page {
				if err := ctx.Err(); err != nil {
					yield(kv{}, err)
					return
				}
				if !yield(p, nil) {
					return
				}
			}
			if len(page) < scanChunk {
				return
			}
			last := page[len(page)-1].key
			start = append(last[:len(last):len(last)], 0) // the next key after last
		}
	}
}

func isNotFound(err error) bool { return errors.Is(err, badger.ErrKeyNotFound) }
