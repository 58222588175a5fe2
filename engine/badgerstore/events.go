package badgerstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// Events are the largest and fastest-growing data (tens of thousands a
// second on ingestion), so, like consent records, they have a compact binary
// encoding; the user and the time are in the key and are not repeated.
// Version 1:
//
//	0x01
//	string ID, Type, Item, Order, Query, Touchpoint, Region
//	uvarint number of lines, then per line: string Item, uvarint Quantity,
//	        8-byte little-endian IEEE 754 Price
//
// Version 2, for a purchase that redeemed an offer, is version 1 with 0x02
// first and then one more string, OfferCode.
//
// Strings are as in the consent codec (codec.go).
const (
	eventCodecV1 = 1
	eventCodecV2 = 2
)

// eventSuffixLen is the length of <at><seq> after ev/<user>\x00.
const eventSuffixLen = 16

// eventKey is ev/<user>\x00<at><seq>: a user's events in time order, and
// events of the same time in append order.
func eventKey(b []byte, id engine.UserID, at time.Time, seq uint64) []byte {
	b = append(b, pEvent...)
	b = append(b, id...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, timeKey(at))
	return binary.BigEndian.AppendUint64(b, seq)
}

// appendEvent appends the encoding of e (its User and OccurredAt excepted).
func appendEvent(b []byte, e *engine.Event) []byte {
	version := byte(eventCodecV1)
	if e.OfferCode != "" {
		version = eventCodecV2
	}
	b = append(b, version)
	for _, s := range [...]string{e.ID, string(e.Type), string(e.Item), e.Order, e.Query, string(e.Touchpoint), e.Region} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Items)))
	for _, l := range e.Items {
		b = appendString(b, string(l.Item))
		b = binary.AppendUvarint(b, uint64(max(l.Quantity, 0)))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(l.Price))
	}
	if version == eventCodecV2 {
		b = appendString(b, e.OfferCode)
	}
	return b
}

// decodeEvent decodes the key and value of a stored event. It copies what it
// keeps, so k and v may be Badger's buffers. user, if not empty, is the user
// the key is expected to name: an event of that user reuses the string.
//
// Every string of the event shares one copy of v (one allocation instead of
// one per field), and the event type and touchpoint, from small
// vocabularies, are the package's constants.
func decodeEvent(k, v []byte, e *engine.Event, user engine.UserID) error {
	n := len(k) - eventSuffixLen - 1
	if n <= len(pEvent) || k[n] != 0 || len(v) == 0 || (v[0] != eventCodecV1 && v[0] != eventCodecV2) {
		return fmt.Errorf("badgerstore: corrupt event %q", k)
	}
	if u := k[len(pEvent):n]; user != "" && string(u) == string(user) {
		e.User = user
	} else {
		e.User = engine.UserID(u)
	}
	e.OccurredAt = timeFromKey(binary.BigEndian.Uint64(k[n+1:]))
	d := strDecoder{s: string(v[1:])}
	e.ID = d.string()
	e.Type = eventType(d.string())
	e.Item = engine.ItemID(d.string())
	e.Order = d.string()
	e.Query = d.string()
	e.Touchpoint = touchpoint(d.string())
	e.Region = d.string()
	lines := d.uvarint()
	if d.bad || lines > uint64(len(d.s)) {
		return fmt.Errorf("badgerstore: corrupt event %q", k)
	}
	e.Items = nil
	if lines > 0 {
		e.Items = make([]engine.LineItem, lines)
	}
	for i := range e.Items {
		l := &e.Items[i]
		l.Item = engine.ItemID(d.string())
		l.Quantity = int(d.uvarint())
		if d.bad || len(d.s) < 8 {
			return fmt.Errorf("badgerstore: corrupt event %q", k)
		}
		l.Price = math.Float64frombits(binary.LittleEndian.Uint64([]byte(d.s[:8])))
		d.s = d.s[8:]
	}
	e.OfferCode = ""
	if v[0] == eventCodecV2 {
		e.OfferCode = d.string()
	}
	if d.bad || len(d.s) != 0 {
		return fmt.Errorf("badgerstore: corrupt event %q", k)
	}
	return nil
}

// A strDecoder reads the encoding of appendString and uvarints from a
// string, so that the strings it returns share it.
type strDecoder struct {
	s   string
	bad bool
}

func (d *strDecoder) uvarint() uint64 {
	var x uint64
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		c := d.s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			d.s = d.s[i+1:]
			return x | uint64(c)<<(7*i)
		}
		x |= uint64(c&0x7f) << (7 * i)
	}
	d.bad, d.s = true, ""
	return 0
}

func (d *strDecoder) string() string {
	n := d.uvarint()
	if d.bad || uint64(len(d.s)) < n {
		d.bad, d.s = true, ""
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

// eventType returns t as the engine's constant when it is one.
func eventType(t string) engine.EventType {
	for _, c := range engine.EventTypes {
		if string(c) == t {
			return c
		}
	}
	return engine.EventType(t)
}

// touchpoint returns t as the engine's constant when it is one.
func touchpoint(t string) engine.Touchpoint {
	for _, c := range engine.Touchpoints {
		if string(c) == t {
			return c
		}
	}
	return engine.Touchpoint(t)
}

// AppendEvents writes b in one transaction, on disk when it returns: each
// event under ev/<user>\x00<at><seq>, each user's derived updates (order
// count, first purchase, interest tags, see engine.UserEvents) and the
// effects (usage-log entries, outbox items). Concurrent calls share
// transactions and fsyncs with other writes (group commit). Events, updates
// and usage-log entries of users that do not exist (erased or merged away
// since the caller looked) are skipped; the rest is written. Returns
// ErrInvalid for an event without an id, user or time.
//
// Everything that costs CPU (encoding, and the read-modify-write of each
// user's profile and interests) is done before the transaction, in the
// caller's goroutine, from a snapshot; the transaction, run by the one
// committer goroutine, only checks that each value it replaces is still
// the one the snapshot had, and computes again the rare one that changed.
func (db *DB) AppendEvents(ctx context.Context, b engine.EventBatch) error {
	size := 0
	for i := range b.Events {
		e := &b.Events[i]
		if e.ID == "" || e.User == "" || e.OccurredAt.IsZero() {
			return engine.Invalid(fmt.Sprintf("events[%d]", i), "needs an id, a user and a time")
		}
		size += len(pEvent) + len(e.User) + 1 + eventSuffixLen + 64 + len(e.ID) + len(e.Item) + len(e.Order) + len(e.OfferCode) +
			len(e.Query) + len(e.Region) + 32*len(e.Items)
	}
	// Keys and values are built once, outside the transaction function,
	// which may run more than once; Badger keeps the slices until commit.
	buf := make([]byte, 0, size)
	keys := make([][]byte, len(b.Events))
	vals := make([][]byte, len(b.Events))
	for i := range b.Events {
		e := &b.Events[i]
		start := len(buf)
		buf = eventKey(buf, e.User, e.OccurredAt, db.seq.next(0))
		keys[i] = buf[start:len(buf):len(buf)]
		start = len(buf)
		buf = appendEvent(buf, e)
		vals[i] = buf[start:len(buf):len(buf)]
	}
	acts, err := db.encodeActivity(b.Effects.Activity)
	if err != nil {
		return err
	}
	updates, err := db.prepareUserEvents(ctx, b.Users)
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	err = db.update(ctx, func(txn *badger.Txn) error {
		known := make(map[engine.UserID]bool, len(b.Users))
		isKnown := func(id engine.UserID) (bool, error) {
			ok, seen := known[id]
			if seen {
				return ok, nil
			}
			ok, err := exists(txn, userKey(pUser, id))
			known[id] = ok
			return ok, err
		}
		for i := range b.Events {
			ok, err := isKnown(b.Events[i].User)
			if err != nil {
				return err
			}
			if ok {
				if err := txn.Set(keys[i], vals[i]); err != nil {
					return err
				}
			}
		}
		for i := range updates {
			ok, err := isKnown(updates[i].u.User)
			if err != nil {
				return err
			}
			if ok {
				if err := updates[i].apply(txn); err != nil {
					return err
				}
			}
		}
		for _, a := range acts {
			ok, err := isKnown(a.user)
			if err != nil {
				return err
			}
			if ok {
				if err := txn.Set(a.key, a.val); err != nil {
					return err
				}
			}
		}
		for _, it := range b.Effects.Outbox {
			if err := putOutbox(txn, it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	for i := range updates {
		if up := &updates[i]; len(up.u.Interests) > 0 {
			db.deltas.wrote(up.u.User, up.didFold)
		}
		if up := &updates[i]; len(up.u.Touchpoints) > 0 {
			db.tps.stored(up.u.User, up.u.Touchpoints) // (a user gone meanwhile: a harmless entry)
		}
	}
	return nil
}

// An encodedEntry is a usage-log entry ready to be set.
type encodedEntry struct {
	user     engine.UserID
	key, val []byte
}

// encodeActivity encodes entries as putActivity would write them.
func (db *DB) encodeActivity(entries []engine.ActivityEntry) ([]encodedEntry, error) {
	out := make([]encodedEntry, len(entries))
	for i, e := range entries {
		if e.At.IsZero() {
			e.At = time.Now()
		}
		v, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("badgerstore: encode activity: %w", err)
		}
		out[i] = encodedEntry{user: e.User, key: activityKey(e.User, timeKey(e.At), db.seq.next(0)), val: v}
	}
	return out, nil
}

// A userUpdate is one user's derived updates, computed from a snapshot.
type userUpdate struct {
	u engine.UserEvents
	// The version of the profile the snapshot had (0: missing) and the
	// value to write in its place when orders change.
	userVer uint64
	userNew []byte
	// profile says whether the profile is to be written: the batch adds
	// orders or a touchpoint the user was not yet seen at, or the user
	// was missing from the snapshot (apply then looks again).
	profile bool
	// Interest tags are added as a delta (deltaKey, delta), written
	// without reading t/<user>, unless the user already has
	// maxInterestDeltas: then the deltas the snapshot had (folded) are
	// deleted and t/<user> (version tagsVer) is rewritten with them and
	// the new tags (tagsNew), or, if t/<user> changed since, the delta is
	// written after all (the next batch folds).
	deltaKey, delta []byte
	fold            bool
	tagsVer         uint64
	tagsNew         []byte
	folded          [][]byte
	didFold         bool // set by apply
}

// prepareUserEvents reads, in one read transaction, the profiles of the
// users who bought and how many interest deltas each user has, and
// computes what each update writes.
func (db *DB) prepareUserEvents(ctx context.Context, us []engine.UserEvents) ([]userUpdate, error) {
	out := make([]userUpdate, len(us))
	err := db.view(ctx, func(txn *badger.Txn) error {
		var it *badger.Iterator
		defer func() {
			if it != nil {
				it.Close()
			}
		}()
		var prefix []byte
		for i, u := range us {
			if len(u.Touchpoints) > 0 && db.tps.known(u.User, u.Touchpoints) {
				u.Touchpoints = nil // stored already: no profile read for them
			}
			up := &out[i]
			up.u = u
			if u.Orders > 0 || !u.FirstPurchaseAt.IsZero() || len(u.Touchpoints) > 0 {
				k := userKey(pUser, u.User)
				old, ver, err := valueOf(txn, k)
				if err != nil {
					return err
				}
				up.profile = old == nil
				if old != nil {
					if up.userNew, up.profile, err = orderedProfile(k, old, u); err != nil {
						return err
					}
					up.userVer = ver
				}
			}
			if len(u.Interests) == 0 {
				continue
			}
			n, known := db.deltas.count(u.User)
			if !known {
				if it == nil {
					it = txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pInterestDelta)})
				}
				prefix = append(append(append(prefix[:0], pInterestDelta...), u.User...), 0)
				for it.Seek(prefix); it.ValidForPrefix(prefix) && n < maxInterestDeltas; it.Next() {
					n++
				}
				db.deltas.set(u.User, n)
			}
			up.deltaKey = interestDeltaKey(nil, u.User, db.seq.next(0))
			up.delta = appendInterests(nil, &engine.Interests{Tags: u.Interests})
			if n < maxInterestDeltas {
				continue
			}
			up.fold = true
			item, err := txn.Get(userKey(pInterests, u.User))
			switch {
			case err == nil:
				up.tagsVer = item.Version()
			case !errors.Is(err, badger.ErrKeyNotFound):
				return err
			}
			in, keys, err := loadInterests(txn, u.User)
			if err != nil {
				return err
			}
			in.Add(u.Interests...)
			sortTags(in.Tags)
			up.tagsNew, up.folded = appendInterests(nil, &in), keys
		}
		return nil
	})
	return out, err
}

// apply writes up in txn: the precomputed values where the stored ones are
// still those of the snapshot (same version), else values computed again
// from txn.
func (up *userUpdate) apply(txn *badger.Txn) error {
	u := up.u
	if up.profile {
		k := userKey(pUser, u.User)
		same, err := unchanged(txn, k, up.userVer)
		if err != nil {
			return err
		}
		v := up.userNew
		if v == nil || !same {
			cur, _, err := valueOf(txn, k)
			if err != nil || cur == nil {
				return err
			}
			// Computed again on what is there now, which may already
			// hold what the batch adds (a concurrent batch saw the same
			// touchpoint): then there is nothing to write.
			if v, _, err = orderedProfile(k, cur, u); err != nil {
				return err
			}
		}
		if v != nil {
			if err := txn.Set(k, v); err != nil {
				return err
			}
		}
	}
	if len(u.Interests) == 0 {
		return nil
	}
	up.didFold = false
	if !up.fold {
		return txn.Set(up.deltaKey, up.delta)
	}
	// Deltas are deleted only with a rewrite of t/<user>: while it has the
	// snapshot's version, they are still the snapshot's. If it changed
	// (another batch folded first), the delta is written instead: folding
	// again here would need an iterator over this transaction's pending
	// writes, which costs the one committer goroutine much more.
	k := userKey(pInterests, u.User)
	same, err := unchanged(txn, k, up.tagsVer)
	if err != nil {
		return err
	}
	if !same {
		return txn.Set(up.deltaKey, up.delta)
	}
	if err := deleteKeys(txn, up.folded); err != nil {
		return err
	}
	up.didFold = true
	return txn.Set(k, up.tagsNew)
}

// valueOf returns a copy of key's value and its version (the commit that
// wrote it), or nil and 0 if key is missing.
func valueOf(txn *badger.Txn, key []byte) ([]byte, uint64, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	v, err := item.ValueCopy(nil)
	return v, item.Version(), err
}

// unchanged reports whether key's value still has version ver (0: key
// missing), without reading the value (a large one stays in the value log).
// A value this transaction wrote (another write of the same group commit)
// has the transaction's read timestamp as its version, as may one committed
// just before the transaction began: such a version never counts as
// unchanged, so the caller reads the value and computes again.
func unchanged(txn *badger.Txn, key []byte, ver uint64) (bool, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ver == 0, nil
	}
	if err != nil {
		return false, err
	}
	return item.Version() == ver && ver < txn.ReadTs(), nil
}

// orderedProfile returns the profile old (JSON of engine.User) with u's
// orders, first purchase and touchpoints applied, and whether that changed
// it.
func orderedProfile(k, old []byte, u engine.UserEvents) ([]byte, bool, error) {
	var usr engine.User
	if err := unmarshal(k, old, &usr); err != nil {
		return nil, false, err
	}
	changed := u.Orders > 0
	usr.OrderCount += u.Orders
	if !u.FirstPurchaseAt.IsZero() && (usr.FirstPurchaseAt.IsZero() || u.FirstPurchaseAt.Before(usr.FirstPurchaseAt)) {
		usr.FirstPurchaseAt, changed = u.FirstPurchaseAt, true
	}
	for _, tp := range u.Touchpoints {
		if !slices.Contains(usr.Touchpoints, tp) {
			usr.Touchpoints, changed = append(usr.Touchpoints, tp), true
		}
	}
	if !changed {
		return nil, false, nil
	}
	b, err := json.Marshal(usr)
	return b, true, err
}

// Events returns the newest limit events of id (all of them if limit <= 0),
// oldest first. Returns ErrNotFound for an unknown user.
func (db *DB) Events(ctx context.Context, id engine.UserID, limit int) ([]engine.Event, error) {
	var out []engine.Event
	err := db.view(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		var err error
		out, err = readEvents(ctx, txn, id, limit, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", id, err)
	}
	return out, nil
}

// PersonalData returns, in one read transaction, what a personalized list
// reads once its consent decision is made: the newest limit events of id
// that keep accepts (all of them if limit <= 0), oldest first, the tags id
// deleted and id's preferences. Returns ErrNotFound for an unknown user.
func (db *DB) PersonalData(ctx context.Context, id engine.UserID, limit int, keep func(engine.Event) bool) (engine.PersonalData, error) {
	var d engine.PersonalData
	err := db.view(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		var err error
		if d.Events, err = readEvents(ctx, txn, id, limit, keep); err != nil {
			return err
		}
		if d.Deleted, err = getDeletedInterests(txn, id); err != nil {
			return err
		}
		d.Preferences, err = getPreferences(txn, id)
		return err
	})
	if err != nil {
		return engine.PersonalData{}, fmt.Errorf("personal data of %s: %w", id, err)
	}
	return d, nil
}

// readEvents reads the newest limit events of id that keep accepts (nil:
// every event; limit <= 0: all), newest first from the store, and returns
// them oldest first.
func readEvents(ctx context.Context, txn *badger.Txn, id engine.UserID, limit int, keep func(engine.Event) bool) ([]engine.Event, error) {
	prefix := userRange(pEvent, id)
	// Grown as read: most shoppers have far fewer events than a limit of
	// hundreds, and an Event is large (allocating for the limit was half of
	// a recommendation's garbage).
	var out []engine.Event
	// No value prefetching: events are small, so their values sit in the
	// tables, and prefetching starts a goroutine per item.
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	defer it.Close()
	end := append(slices.Clip(prefix), slices.Repeat([]byte{0xff}, eventSuffixLen+1)...)
	for it.Seek(end); it.Valid() && (limit <= 0 || len(out) < limit); it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		item := it.Item()
		out = append(out, engine.Event{})
		e := &out[len(out)-1]
		if err := item.Value(func(v []byte) error { return decodeEvent(item.Key(), v, e, id) }); err != nil {
			return nil, err
		}
		if keep != nil && !keep(*e) {
			out = out[:len(out)-1]
		}
	}
	slices.Reverse(out)
	return out, nil
}

// ScanEvents yields every stored event, user by user (in user id order),
// each user's oldest first; on an error it yields the error once and stops.
// It reads scanChunk events per read transaction and checks ctx between
// events.
func (db *DB) ScanEvents(ctx context.Context) iter.Seq2[engine.Event, error] {
	return func(yield func(engine.Event, error) bool) {
		for v, err := range db.scan(ctx, []byte(pEvent)) {
			if err != nil {
				yield(engine.Event{}, fmt.Errorf("scan events: %w", err))
				return
			}
			var e engine.Event
			if err := decodeEvent(v.key, v.val, &e, ""); err != nil {
				yield(engine.Event{}, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// moveEvent copies an event of a removed user to target, the merge
// survivor, if target exists.
func moveEvent(txn *badger.Txn, item *badger.Item, suffix []byte, target engine.UserID) error {
	if target == "" {
		return nil
	}
	if ok, err := exists(txn, userKey(pUser, target)); err != nil || !ok {
		return err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	return txn.Set(append(userRange(pEvent, target), suffix...), v)
}
