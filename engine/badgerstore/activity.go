package badgerstore

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// Activity page sizes.
const (
	defaultActivityLimit = 50
	maxActivityLimit     = 1000
)

// activitySuffixLen is the length of <^at><^seq> after a/<user>\x00.
const activitySuffixLen = 16

// writeEffects writes fx in txn: the usage-log entries of users that exist
// (as seen by txn, so a user the transaction deleted gets none) and the
// outbox items.
func (db *DB) writeEffects(txn *badger.Txn, fx engine.Effects) error {
	if err := db.putActivity(txn, fx.Activity, false); err != nil {
		return err
	}
	for _, it := range fx.Outbox {
		if err := putOutbox(txn, it); err != nil {
			return err
		}
	}
	return nil
}

// putActivity writes entries in txn, skipping those of unknown users. With
// queued true (entries written after the request that made them), it also
// skips entries older than their user: queued for an erased user whose id
// was registered again since. An entry without a time gets the current
// time.
func (db *DB) putActivity(txn *badger.Txn, entries []engine.ActivityEntry, queued bool) error {
	var born map[engine.UserID]time.Time // a user's creation (zero: unknown user), by user seen
	for _, e := range entries {
		created, seen := born[e.User]
		if !seen {
			var err error
			if created, err = userBorn(txn, e.User, queued); err != nil {
				return err
			}
			if born == nil {
				born = make(map[engine.UserID]time.Time)
			}
			born[e.User] = created
		}
		if e.At.IsZero() {
			e.At = time.Now()
		}
		if created.IsZero() || (queued && e.At.Before(created)) {
			continue
		}
		k := activityKey(e.User, timeKey(e.At), db.seq.next(0))
		if err := setJSON(txn, k, e); err != nil {
			return err
		}
	}
	return nil
}

// userBorn returns when id was created, the zero time if id does not
// exist; without exact, any non-zero time stands for an existing user (no
// profile is decoded).
func userBorn(txn *badger.Txn, id engine.UserID, exact bool) (time.Time, error) {
	if !exact {
		ok, err := exists(txn, userKey(pUser, id))
		if err != nil || !ok {
			return time.Time{}, err
		}
		return time.Unix(0, 1), nil
	}
	var u struct {
		CreatedAt time.Time `json:"created_at"`
	}
	switch err := getJSON(txn, userKey(pUser, id), &u); {
	case errors.Is(err, badger.ErrKeyNotFound):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, err
	}
	if u.CreatedAt.IsZero() {
		return time.Unix(0, 1), nil // exists; created before heed recorded creation times
	}
	return u.CreatedAt, nil
}

// activityKey is a/<user>\x00<^at><^seq>: a forward scan is newest first,
// and entries of the same time come latest-appended first.
func activityKey(id engine.UserID, at, seq uint64) []byte {
	b := userRange(pActivity, id)
	b = binary.BigEndian.AppendUint64(b, ^at)
	return binary.BigEndian.AppendUint64(b, ^seq)
}

// AppendActivity adds entries to their users' usage logs, on disk when it
// returns. Entries of users that do not exist are ignored.
func (db *DB) AppendActivity(ctx context.Context, entries ...engine.ActivityEntry) error {
	if len(entries) == 0 {
		return nil
	}
	err := db.update(ctx, func(txn *badger.Txn) error { return db.putActivity(txn, entries, false) })
	if err != nil {
		return fmt.Errorf("append activity: %w", err)
	}
	return nil
}

// Activity returns up to limit entries of the usage log of id, newest
// first, starting at cursor ("" for the newest), and the cursor of the next
// page, "" when there is none. A limit <= 0 means 50; at most 1000 are
// returned. Returns ErrNotFound for an unknown user, and a
// *engine.ValidationError (ErrInvalid) on field "cursor" for a cursor this
// method did not return.
func (db *DB) Activity(ctx context.Context, id engine.UserID, cursor string, limit int) ([]engine.ActivityEntry, string, error) {
	prefix := userRange(pActivity, id)
	start := prefix
	if cursor != "" {
		suffix, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(suffix) != activitySuffixLen {
			return nil, "", engine.Invalid("cursor", "is not a cursor returned by a previous page")
		}
		start = append(prefix[:len(prefix):len(prefix)], suffix...)
	}
	switch {
	case limit <= 0:
		limit = defaultActivityLimit
	case limit > maxActivityLimit:
		limit = maxActivityLimit
	}
	if err := db.act.flush(ctx); err != nil {
		return nil, "", err
	}
	out := []engine.ActivityEntry{}
	var next string
	err := db.view(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(start); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			if len(out) == limit {
				next = base64.RawURLEncoding.EncodeToString(item.Key()[len(prefix):])
				return nil
			}
			var e engine.ActivityEntry
			if err := item.Value(func(v []byte) error { return unmarshal(item.Key(), v, &e) }); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("activity of %s: %w", id, err)
	}
	return out, next, nil
}
