package badgerstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// The outbox holds the changes waiting to be pushed to change webhooks.
// Items are written with the change that causes them (Effects.Outbox); a
// dispatcher takes the due ones (DueOutbox) and, after each attempt,
// completes, reschedules or dead-letters them. Every method here is synced.

// Outbox page size.
const defaultOutboxLimit = 100

// outboxKey is o/<next-at><id>.
func outboxKey(at uint64, id string) []byte {
	b := append(make([]byte, 0, len(pOutbox)+8+len(id)), pOutbox...)
	b = binary.BigEndian.AppendUint64(b, at)
	return append(b, id...)
}

// putOutbox writes it under its due time and indexes it by id, replacing a
// pending item with the same id.
func putOutbox(txn *badger.Txn, it engine.OutboxItem) error {
	if it.ID == "" {
		return engine.Invalid("outbox.id", "is required")
	}
	if err := removeOutbox(txn, it.ID); err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return err
	}
	at := timeKey(it.NextAt)
	if err := setJSON(txn, outboxKey(at, it.ID), it); err != nil {
		return err
	}
	return txn.Set(key(pOutboxIndex, it.ID), binary.BigEndian.AppendUint64(nil, at))
}

// removeOutbox deletes the pending item id and its index entry. Returns
// badger.ErrKeyNotFound if no such item is pending.
func removeOutbox(txn *badger.Txn, id string) error {
	ik := key(pOutboxIndex, id)
	item, err := txn.Get(ik)
	if err != nil {
		return err
	}
	var at uint64
	if err := item.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("badgerstore: corrupt outbox index %q", ik)
		}
		at = binary.BigEndian.Uint64(v)
		return nil
	}); err != nil {
		return err
	}
	if err := txn.Delete(outboxKey(at, id)); err != nil {
		return err
	}
	return txn.Delete(ik)
}

// DueOutbox returns up to limit pending items whose NextAt is not after
// now, earliest first (then by id). A limit <= 0 means 100.
func (db *DB) DueOutbox(ctx context.Context, now time.Time, limit int) ([]engine.OutboxItem, error) {
	end := timeKey(now)
	out, err := db.scanOutbox(ctx, pOutbox, limit, func(at []byte) bool { return binary.BigEndian.Uint64(at) <= end })
	if err != nil {
		return nil, fmt.Errorf("due outbox: %w", err)
	}
	return out, nil
}

// scanOutbox returns up to limit (<= 0: 100) items under prefix in key
// order, while more(the key after prefix) holds.
func (db *DB) scanOutbox(ctx context.Context, prefix string, limit int, more func(rest []byte) bool) ([]engine.OutboxItem, error) {
	if limit <= 0 {
		limit = defaultOutboxLimit
	}
	var out []engine.OutboxItem
	err := db.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < limit; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			if !more(item.Key()[len(prefix):]) {
				break
			}
			var o engine.OutboxItem
			if err := item.Value(func(v []byte) error { return unmarshal(item.Key(), v, &o) }); err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

// NextOutboxAt returns the NextAt of the earliest pending item, and false
// when the outbox is empty.
func (db *DB) NextOutboxAt(ctx context.Context) (time.Time, bool, error) {
	var (
		at time.Time
		ok bool
	)
	err := db.view(ctx, func(txn *badger.Txn) error {
		prefix := []byte(pOutbox)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		it.Rewind()
		if it.Valid() {
			at, ok = timeFromKey(binary.BigEndian.Uint64(it.Item().Key()[len(prefix):])), true
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next outbox time: %w", err)
	}
	return at, ok, nil
}

// CompleteOutbox removes the pending item with item's id, once delivered.
// Returns ErrNotFound if no such item is pending.
func (db *DB) CompleteOutbox(ctx context.Context, item engine.OutboxItem) error {
	err := db.update(ctx, func(txn *badger.Txn) error { return removeOutbox(txn, item.ID) })
	if err != nil {
		return fmt.Errorf("complete outbox item %s: %w", item.ID, err)
	}
	return nil
}

// RetryOutbox replaces the pending item with item's id by item, with its
// new Attempts, NextAt and LastErr, so it is due again at item.NextAt.
// Returns ErrNotFound if no such item is pending.
func (db *DB) RetryOutbox(ctx context.Context, item engine.OutboxItem) error {
	err := db.update(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(key(pOutboxIndex, item.ID)); err != nil {
			return err
		}
		return putOutbox(txn, item)
	})
	if err != nil {
		return fmt.Errorf("retry outbox item %s: %w", item.ID, err)
	}
	return nil
}

// DeadOutbox moves the pending item with item's id to the dead letters,
// as item, when it will not be retried. A change about a user who has been
// erased (or merged into another) since is dropped instead: it would keep
// what the erasure removed. The erasure's own event is kept, so that an
// operator can learn that a target was never told. Returns ErrNotFound if
// no such item is pending.
func (db *DB) DeadOutbox(ctx context.Context, item engine.OutboxItem) error {
	err := db.update(ctx, func(txn *badger.Txn) error {
		if err := removeOutbox(txn, item.ID); err != nil {
			return err
		}
		if item.Change.Event != engine.EventUserErased {
			if ok, err := exists(txn, userKey(pUser, item.Change.User)); err != nil || !ok {
				return err
			}
		}
		return setJSON(txn, key(pDead, item.ID), item)
	})
	if err != nil {
		return fmt.Errorf("dead-letter outbox item %s: %w", item.ID, err)
	}
	return nil
}

// DeadLetters returns up to limit dead-lettered items, by id (which sorts
// by creation time for engine.NewID ids). A limit <= 0 means 100.
func (db *DB) DeadLetters(ctx context.Context, limit int) ([]engine.OutboxItem, error) {
	out, err := db.scanOutbox(ctx, pDead, limit, func([]byte) bool { return true })
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	return out, nil
}
