package badgerstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// The delivery ledger (doc.go has the keys). An entry lives under its
// campaign and occurrence, so a campaign's deliveries are one range; a
// per-user index finds a user's (erasure, caps, attribution); a due index
// holds every entry that is not final at the time it is next due, which is
// what the sweeper scans. rs/<user> keeps the user's sends of the last
// recentDays for the frequency caps.

// recentDays is how long a send counts in rs/<user>: a week cap needs at
// most seven local days, plus a day for time zones.
const recentDays = 8

// deliveryKeys are the keys of one ledger entry.
type deliveryKeys struct {
	entry, user []byte
}

// splitDeliveryKey splits an engine.Contact.DeliveryKey
// (campaign/occurrence/user).
func splitDeliveryKey(key string) (campaign, occurrence string, user engine.UserID, ok bool) {
	campaign, rest, ok1 := strings.Cut(key, "/")
	occurrence, u, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || campaign == "" || occurrence == "" || u == "" {
		return "", "", "", false
	}
	return campaign, occurrence, engine.UserID(u), true
}

func keysOf(c engine.Contact) deliveryKeys {
	return deliveryKeys{
		entry: key(pDelivery, c.Campaign, c.Occurrence, string(c.User)),
		user:  key(pDeliveryUser, string(c.User), c.Campaign, c.Occurrence),
	}
}

// dueKey is dq/<due><campaign>\x00<occurrence>\x00<user>.
func dueKey(due time.Time, c engine.Contact) []byte {
	b := append([]byte(pDeliveryDue), 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint64(b[len(pDeliveryDue):], timeKey(due))
	b = append(b, c.Campaign...)
	b = append(b, 0)
	b = append(b, c.Occurrence...)
	b = append(b, 0)
	return append(b, c.User...)
}

// userIndexValue is the value of a dlu/ key: when the delivery was sent or
// claimed (Unix ns), or nothing; the campaign caps count these.
func userIndexValue(d engine.Delivery) []byte {
	var at time.Time
	switch d.Status {
	case engine.DeliverySent:
		at = d.SentAt
	case engine.DeliverySending:
		at = d.UpdatedAt
	default:
		return nil
	}
	return binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))
}

// putDelivery writes d, replacing old (the stored entry, if had), with its
// user and due index keys.
func putDelivery(txn *badger.Txn, d engine.Delivery, old *engine.Delivery) error {
	k := keysOf(d.Contact)
	if old != nil {
		if due := old.NextDue(); !due.IsZero() {
			if err := txn.Delete(dueKey(due, old.Contact)); err != nil {
				return err
			}
		}
	}
	if due := d.NextDue(); !due.IsZero() {
		if err := txn.Set(dueKey(due, d.Contact), nil); err != nil {
			return err
		}
	}
	if err := txn.Set(k.user, userIndexValue(d)); err != nil {
		return err
	}
	return setJSON(txn, k.entry, d)
}

// getDelivery reads the entry of c; ok is false if there is none.
func getDelivery(txn *badger.Txn, c engine.Contact) (engine.Delivery, bool, error) {
	var d engine.Delivery
	err := getJSON(txn, keysOf(c).entry, &d)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return engine.Delivery{}, false, nil
	}
	return d, err == nil, err
}

// UpdateDelivery reads what a send-time decision about c needs, calls
// decide, and writes what it returns; see engine.DeliveryStore. The user's
// lock is held from the read to the write: consent appends and preference
// updates take it too, so neither can slip between them.
func (db *DB) UpdateDelivery(ctx context.Context, c engine.Contact, decide func(engine.DeliveryFacts) (engine.Delivery, engine.Effects, bool, error)) (engine.Delivery, error) {
	defer db.lockUser(c.User)()
	var f engine.DeliveryFacts
	err := db.view(ctx, func(txn *badger.Txn) error {
		err := getJSON(txn, userKey(pUser, c.User), &f.User)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil // Found stays false
		}
		if err != nil {
			return err
		}
		f.Found = true // identities are not read: the decision needs none
		if f.Prefs, err = getPreferences(txn, c.User); err != nil {
			return err
		}
		code := purposeCodes[engine.PurposeMarketing]
		if f.Records, err = scanLedger(ctx, txn, c.User, append(userRange(pConsent, c.User), code)); err != nil {
			return err
		}
		if f.Recent, err = getRecent(txn, c.User); err != nil {
			return err
		}
		if f.CampaignSends, err = campaignSends(txn, c.User, c.Campaign); err != nil {
			return err
		}
		f.Delivery, f.Exists, err = getDelivery(txn, c)
		return err
	})
	if err != nil {
		return engine.Delivery{}, fmt.Errorf("delivery %s: %w", c.DeliveryKey(), err)
	}
	d, fx, write, err := decide(f)
	if err != nil || !write {
		return d, err
	}
	var old *engine.Delivery
	if f.Exists {
		old = &f.Delivery
	}
	err = db.update(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, c.User); err != nil {
			return err
		}
		if err := putDelivery(txn, d, old); err != nil {
			return err
		}
		if d.Status == engine.DeliverySending {
			if err := addRecent(txn, c.User, engine.SentMessage{At: d.UpdatedAt, Channel: d.Channel, Campaign: d.Campaign, Delivery: d.ID}, d.UpdatedAt); err != nil {
				return err
			}
		}
		return db.writeEffects(txn, fx)
	})
	if errors.Is(err, engine.ErrNotFound) { // erased between the read and the write
		return engine.Delivery{Contact: c, Status: engine.DeliverySuppressed, Reason: engine.ReasonErased, UpdatedAt: d.UpdatedAt}, nil
	}
	if err != nil {
		return engine.Delivery{}, fmt.Errorf("delivery %s: %w", c.DeliveryKey(), err)
	}
	return d, nil
}

func getRecent(txn *badger.Txn, id engine.UserID) ([]engine.SentMessage, error) {
	var out []engine.SentMessage
	err := getJSON(txn, userKey(pRecentSends, id), &out)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	return out, err
}

// addRecent adds m to id's recent sends, once, dropping those older than
// recentDays before now.
func addRecent(txn *badger.Txn, id engine.UserID, m engine.SentMessage, now time.Time) error {
	recent, err := getRecent(txn, id)
	if err != nil {
		return err
	}
	cutoff := now.Add(-recentDays * 24 * time.Hour)
	recent = slices.DeleteFunc(recent, func(r engine.SentMessage) bool { return r.At.Before(cutoff) })
	if slices.ContainsFunc(recent, func(r engine.SentMessage) bool { return r.Delivery == m.Delivery }) {
		return nil
	}
	return setJSON(txn, userKey(pRecentSends, id), append(recent, m))
}

// campaignSends returns when id was sent (or claimed) deliveries of
// campaign, from the user index.
func campaignSends(txn *badger.Txn, id engine.UserID, campaign string) ([]time.Time, error) {
	prefix := append(key(pDeliveryUser, string(id), campaign), 0)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 16})
	defer it.Close()
	var out []time.Time
	for it.Rewind(); it.Valid(); it.Next() {
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return nil, err
		}
		if len(v) == 8 {
			out = append(out, time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC())
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out, nil
}

// ScheduleDeliveries stores the entries of ds that have none yet and whose
// users exist, in transactions of up to scheduleBatch, and returns how many
// it stored.
func (db *DB) ScheduleDeliveries(ctx context.Context, ds []engine.Delivery) (int, error) {
	stored := 0
	for part := range slices.Chunk(ds, scheduleBatch) {
		n := 0
		err := db.update(ctx, func(txn *badger.Txn) error {
			n = 0
			for _, d := range part {
				if ok, err := exists(txn, userKey(pUser, d.User)); err != nil || !ok {
					if err != nil {
						return err
					}
					continue
				}
				if ok, err := exists(txn, keysOf(d.Contact).entry); err != nil || ok {
					if err != nil {
						return err
					}
					continue
				}
				if err := putDelivery(txn, d, nil); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return stored, fmt.Errorf("schedule deliveries: %w", err)
		}
		stored += n
	}
	return stored, nil
}

// scheduleBatch bounds the entries of one scheduling transaction (four
// keys each, well within Badger's transaction limit).
const scheduleBatch = 1000

// Delivery returns the entry with key (campaign/occurrence/user).
func (db *DB) Delivery(ctx context.Context, k string) (engine.Delivery, error) {
	campaign, occ, user, ok := splitDeliveryKey(k)
	if !ok {
		return engine.Delivery{}, engine.Invalid("key", "%q is not campaign/occurrence/user", k)
	}
	var d engine.Delivery
	err := db.view(ctx, func(txn *badger.Txn) error {
		return getJSON(txn, keysOf(engine.Contact{Campaign: campaign, Occurrence: occ, User: user}).entry, &d)
	})
	if err != nil {
		return engine.Delivery{}, fmt.Errorf("delivery %s: %w", k, err)
	}
	return d, nil
}

// Deliveries returns campaign's entries in key order after cursor; see
// engine.DeliveryStore.
func (db *DB) Deliveries(ctx context.Context, campaign, cursor string, limit int, keep func(*engine.Delivery) bool) ([]engine.Delivery, string, error) {
	prefix := append(key(pDelivery, campaign), 0)
	var out []engine.Delivery
	next := ""
	start := prefix
	if cursor != "" {
		start = append(append(slices.Clone(prefix), cursor...), 0) // just after the cursor's key
	}
	err := db.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Seek(start); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			if limit > 0 && len(out) == limit {
				return nil
			}
			var d engine.Delivery
			if err := item.Value(func(v []byte) error { return unmarshal(item.Key(), v, &d) }); err != nil {
				return err
			}
			if keep == nil || keep(&d) {
				out = append(out, d)
				if limit > 0 && len(out) == limit {
					next = string(bytes.TrimPrefix(item.KeyCopy(nil), prefix))
				}
			}
		}
		next = ""
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("deliveries of %s: %w", campaign, err)
	}
	return out, next, nil
}

// DueDeliveries returns up to limit entries that are not final and due at
// or before t, earliest first.
func (db *DB) DueDeliveries(ctx context.Context, t time.Time, limit int) ([]engine.Delivery, error) {
	var out []engine.Delivery
	end := binary.BigEndian.AppendUint64([]byte(pDeliveryDue), timeKey(t))
	err := db.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pDeliveryDue)})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < limit; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().Key()
			if bytes.Compare(k[:len(end)], end) > 0 {
				return nil
			}
			parts := bytes.SplitN(k[len(end):], []byte{0}, 3)
			if len(parts) != 3 {
				continue
			}
			c := engine.Contact{Campaign: string(parts[0]), Occurrence: string(parts[1]), User: engine.UserID(parts[2])}
			d, ok, err := getDelivery(txn, c)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	return out, nil
}

// UserDeliveries returns id's entries, from the user index.
func (db *DB) UserDeliveries(ctx context.Context, id engine.UserID) ([]engine.Delivery, error) {
	var out []engine.Delivery
	err := db.view(ctx, func(txn *badger.Txn) error {
		prefix := userRange(pDeliveryUser, id)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			parts := bytes.SplitN(it.Item().Key()[len(prefix):], []byte{0}, 2)
			if len(parts) != 2 {
				continue
			}
			d, ok, err := getDelivery(txn, engine.Contact{Campaign: string(parts[0]), Occurrence: string(parts[1]), User: id})
			if err != nil {
				return err
			}
			if ok {
				out = append(out, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", id, err)
	}
	return out, nil
}

// UpdateDeliveryEntry runs fn on the entry with key under its user's lock
// and stores what fn returns, with its effects. Returns ErrNotFound if
// there is no such entry.
func (db *DB) UpdateDeliveryEntry(ctx context.Context, k string, fn func(engine.Delivery) (engine.Delivery, engine.Effects, error)) (engine.Delivery, error) {
	campaign, occ, user, ok := splitDeliveryKey(k)
	if !ok {
		return engine.Delivery{}, engine.Invalid("key", "%q is not campaign/occurrence/user", k)
	}
	c := engine.Contact{Campaign: campaign, Occurrence: occ, User: user}
	defer db.lockUser(user)()
	var next engine.Delivery
	err := db.update(ctx, func(txn *badger.Txn) error {
		cur, ok, err := getDelivery(txn, c)
		if err != nil {
			return err
		}
		if !ok {
			return badger.ErrKeyNotFound
		}
		var fx engine.Effects
		if next, fx, err = fn(cur); err != nil {
			return err
		}
		if err := putDelivery(txn, next, &cur); err != nil {
			return err
		}
		return db.writeEffects(txn, fx)
	})
	if err != nil {
		return engine.Delivery{}, fmt.Errorf("delivery %s: %w", k, err)
	}
	return next, nil
}

// deleteDelivery deletes the ledger entry of user id whose user-index
// suffix (campaign\x00occurrence) is given, with its due key.
func deleteDelivery(txn *badger.Txn, id engine.UserID, suffix []byte) error {
	parts := bytes.SplitN(suffix, []byte{0}, 2)
	if len(parts) != 2 {
		return nil
	}
	c := engine.Contact{Campaign: string(parts[0]), Occurrence: string(parts[1]), User: id}
	d, ok, err := getDelivery(txn, c)
	if err != nil || !ok {
		return err
	}
	if due := d.NextDue(); !due.IsZero() {
		if err := txn.Delete(dueKey(due, c)); err != nil {
			return err
		}
	}
	return txn.Delete(keysOf(c).entry)
}
