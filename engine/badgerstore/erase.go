package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// Erase deletes everything held about the user id (profile, identities,
// ledger, preferences, interests, events, usage log, logged decisions) and stores
// proof under its SubjectHash, with fx, in one transaction; the ledger, usage
// log, events and decisions are then purged in smaller ones before Erase returns
// (doc.go, "Removing users"). Usage-log entries in fx for id itself are not
// written. If a proof for the same subject exists (the id was re-created and
// erased again), its records are kept before proof's. PutUser with the same
// id later creates a new user with an empty ledger. Returns ErrNotFound for
// an unknown user and ErrInvalid for a proof without SubjectHash.
func (db *DB) Erase(ctx context.Context, id engine.UserID, proof engine.ErasureProof, fx engine.Effects) error {
	if proof.SubjectHash == "" {
		return engine.Invalid("subject_hash", "is required")
	}
	defer db.deltas.forget(id)
	defer db.tps.forget(id)
	err := db.update(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		if err := unlinkIdentities(ctx, txn, id); err != nil {
			return err
		}
		for _, p := range [...]string{pUser, pSeq, pPrefs, pInterests, pRecentSends} {
			if err := txn.Delete(userKey(p, id)); err != nil {
				return err
			}
		}
		if err := deleteInterestDeltas(txn, id); err != nil {
			return err
		}
		if err := dropDeadLetters(txn, id); err != nil {
			return err
		}
		if err := txn.Set(userKey(pPurge, id), nil); err != nil {
			return err
		}
		if err := txn.Set(userKey(pForget, id), nil); err != nil {
			return err
		}
		if err := putProof(txn, proof); err != nil {
			return err
		}
		return db.writeEffects(txn, fx)
	})
	if err != nil {
		return fmt.Errorf("erase %s: %w", id, err)
	}
	// Decisions and usage-log entries still queued must reach the store
	// before the purge (entries queued from now on find no user: skipped).
	if err := db.dec.flush(ctx); err != nil {
		return fmt.Errorf("erase %s: %w", id, err)
	}
	if err := db.act.flush(ctx); err != nil {
		return fmt.Errorf("erase %s: %w", id, err)
	}
	if err := db.finishPurge(ctx, id); err != nil {
		return fmt.Errorf("erase %s: %w", id, err)
	}
	return nil
}

// dropDeadLetters deletes the dead-lettered changes about id: the
// consents and preferences they carry go with the user. (Dead letters are
// few: changes no target would take.)
func dropDeadLetters(txn *badger.Txn, id engine.UserID) error {
	var keys [][]byte
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pDead)})
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		var o engine.OutboxItem
		if err := item.Value(func(v []byte) error { return unmarshal(item.Key(), v, &o) }); err != nil {
			it.Close()
			return err
		}
		if o.Change.User == id {
			keys = append(keys, item.KeyCopy(nil))
		}
	}
	it.Close()
	return deleteKeys(txn, keys)
}

// unlinkIdentities deletes id's identities (those another user holds are
// only dropped from id's index).
func unlinkIdentities(ctx context.Context, txn *badger.Txn, id engine.UserID) error {
	idents, err := identities(ctx, txn, id)
	if err != nil {
		return err
	}
	for _, ident := range idents {
		var owner engine.UserID
		switch err := getOwner(txn, ident, &owner); {
		case err == nil && owner == id:
			if err := txn.Delete(identKey(ident)); err != nil {
				return err
			}
		case err != nil && !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		if err := txn.Delete(userIdentKey(id, ident)); err != nil {
			return err
		}
	}
	return nil
}

// putProof stores p, after the records of an earlier proof of the subject.
func putProof(txn *badger.Txn, p engine.ErasureProof) error {
	k := key(pProof, p.SubjectHash)
	var old engine.ErasureProof
	switch err := getJSON(txn, k, &old); {
	case err == nil:
		recs := slices.Clone(old.Records)
		for _, r := range p.Records {
			if !slices.ContainsFunc(old.Records, func(o engine.ProofRecord) bool { return o.ID == r.ID }) {
				recs = append(recs, r)
			}
		}
		p.Records = recs
	case !errors.Is(err, badger.ErrKeyNotFound):
		return err
	}
	return setJSON(txn, k, p)
}

// ErasureProof returns the proof kept when the user whose keyed hash is
// subjectHash was erased. Returns ErrNotFound if there is none.
func (db *DB) ErasureProof(ctx context.Context, subjectHash string) (engine.ErasureProof, error) {
	var p engine.ErasureProof
	err := db.view(ctx, func(txn *badger.Txn) error { return getJSON(txn, key(pProof, subjectHash), &p) })
	if err != nil {
		return engine.ErasureProof{}, fmt.Errorf("erasure proof: %w", err)
	}
	return p, nil
}

// purgeChunk bounds the keys one purge transaction touches.
const purgeChunk = 512

// finishPurge completes the removal of id recorded by e/<id>: it deletes
// the leftover ledger, and moves the usage log, decision index and events to
// the merge survivor named in e/<id> if that user exists, or deletes them
// (with the decisions) otherwise. Then it deletes e/<id>. It is idempotent.
func (db *DB) finishPurge(ctx context.Context, id engine.UserID) error {
	var (
		target  engine.UserID
		pending bool
	)
	err := db.view(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(userKey(pPurge, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		pending = true
		v, err := item.ValueCopy(nil)
		target = engine.UserID(v)
		return err
	})
	if err != nil || !pending {
		return err
	}
	guard := userKey(pPurge, id)
	ranges := [][]byte{userRange(pConsent, id), userRange(pActivity, id), userRange(pEvent, id),
		userRange(pDeliveryUser, id)}
	decisions := userRange(pDecisionUser, id) // in the decision index
	for range 3 {
		if err := db.purgeRange(ctx, guard, ranges[0], func(*badger.Txn, *badger.Item, []byte) error { return nil }); err != nil {
			return err
		}
		if err := db.purgeRange(ctx, guard, ranges[1], func(txn *badger.Txn, item *badger.Item, suffix []byte) error {
			return moveActivity(txn, item, suffix, target)
		}); err != nil {
			return err
		}
		if err := db.purgeDecisions(ctx, guard, decisions, target); err != nil {
			return err
		}
		if err := db.purgeRange(ctx, guard, ranges[2], func(txn *badger.Txn, item *badger.Item, suffix []byte) error {
			return moveEvent(txn, item, suffix, target)
		}); err != nil {
			return err
		}
		// Deliveries, queued ones included, go with the user (a merged
		// user's were planned for the user that no longer is).
		if err := db.purgeRange(ctx, guard, ranges[3], func(txn *badger.Txn, _ *badger.Item, suffix []byte) error {
			return deleteDelivery(txn, id, suffix)
		}); err != nil {
			return err
		}
		if !db.dec.indexEmpty(decisions) {
			continue // decisions logged meanwhile
		}
		// Drop the guard only if it still stands for an empty purge: a
		// later erasure of a re-created user may have written it again.
		done := false
		err := db.update(ctx, func(txn *badger.Txn) error {
			done = false
			if ok, err := exists(txn, guard); err != nil || !ok {
				done = err == nil
				return err
			}
			for _, r := range ranges {
				if !rangeEmpty(txn, r) {
					return nil
				}
			}
			done = true
			return txn.Delete(guard)
		})
		if err != nil || done {
			return err
		}
	}
	return fmt.Errorf("badgerstore: purge of %s keeps finding new keys", id)
}

// moveActivity copies a usage-log entry of a removed user to target, the
// merge survivor, if target exists.
func moveActivity(txn *badger.Txn, item *badger.Item, suffix []byte, target engine.UserID) error {
	if target == "" {
		return nil
	}
	if ok, err := exists(txn, userKey(pUser, target)); err != nil || !ok {
		return err
	}
	var e engine.ActivityEntry
	if err := item.Value(func(v []byte) error { return unmarshal(item.Key(), v, &e) }); err != nil {
		return err
	}
	e.User = target
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return txn.Set(append(userRange(pActivity, target), suffix...), b)
}

// purgeDecisions moves the decision-index entries under prefix (a removed
// user's) to target, the merge survivor, if target exists, and otherwise
// erases the decisions, purgeChunk entries per transaction of the index.
// Like purgeRange it stops once guard is gone, but it reads guard (in the
// store) before each transaction of the index, not in it: a purge of the
// same user that completes in between, and a new user of the same id who
// is logged a decision in that moment, is a race it does not close.
func (db *DB) purgeDecisions(ctx context.Context, guard, prefix []byte, target engine.UserID) error {
	for {
		var live, move bool
		err := db.view(ctx, func(txn *badger.Txn) error {
			var err error
			if live, err = exists(txn, guard); err != nil || !live || target == "" {
				return err
			}
			move, err = exists(txn, userKey(pUser, target))
			return err
		})
		if err != nil || !live {
			return err
		}
		n := 0
		err = db.dec.updateIndex(func(txn *badger.Txn) error {
			var err error
			n, err = purgeChunkOf(ctx, txn, prefix, func(txn *badger.Txn, item *badger.Item, suffix []byte) error {
				if !move {
					return db.dec.eraseDecision(txn, string(suffix))
				}
				e := badger.NewEntry(append(userRange(pDecisionUser, target), suffix...), nil)
				e.ExpiresAt = item.ExpiresAt()
				return txn.SetEntry(e)
			})
			return err
		})
		if err != nil || n == 0 {
			return err
		}
	}
}

// rangeEmpty reports whether no key starts with prefix.
func rangeEmpty(txn *badger.Txn, prefix []byte) bool {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	it.Rewind()
	return !it.Valid()
}

// purgeRange deletes every key under prefix, purgeChunk keys per
// transaction, calling fn first for each (with the key's part after prefix)
// so it can write what replaces it. It stops once guard (the e/ key) is
// gone: a concurrent finishPurge of the same user completed, and the id may
// already name a new user whose keys must stay. Each transaction reads
// guard, so one that races with its deletion conflicts and looks again.
func (db *DB) purgeRange(ctx context.Context, guard, prefix []byte, fn func(txn *badger.Txn, item *badger.Item, suffix []byte) error) error {
	for {
		n := 0
		err := db.update(ctx, func(txn *badger.Txn) error {
			n = 0
			if ok, err := exists(txn, guard); err != nil || !ok {
				return err
			}
			var err error
			n, err = purgeChunkOf(ctx, txn, prefix, fn)
			return err
		})
		if err != nil || n == 0 {
			return err
		}
	}
}

// purgeChunkOf deletes up to purgeChunk keys under prefix in txn, calling fn
// first for each (with the key's part after prefix), and returns how many.
func purgeChunkOf(ctx context.Context, txn *badger.Txn, prefix []byte, fn func(txn *badger.Txn, item *badger.Item, suffix []byte) error) (int, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	var keys [][]byte
	for it.Rewind(); it.Valid() && len(keys) < purgeChunk; it.Next() {
		if err := ctx.Err(); err != nil {
			it.Close()
			return 0, err
		}
		item := it.Item()
		k := item.KeyCopy(nil)
		if err := fn(txn, item, k[len(prefix):]); err != nil {
			it.Close()
			return 0, err
		}
		keys = append(keys, k)
	}
	it.Close()
	return len(keys), deleteKeys(txn, keys)
}

// resumePurges finishes the purges a crash interrupted; Open calls it.
func (db *DB) resumePurges(ctx context.Context) error {
	var ids []engine.UserID
	err := db.view(ctx, func(txn *badger.Txn) error {
		prefix := []byte(pPurge)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			ids = append(ids, engine.UserID(it.Item().Key()[len(prefix):]))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("badgerstore: find pending purges: %w", err)
	}
	for _, id := range ids {
		if err := db.finishPurge(ctx, id); err != nil {
			// Neither the error nor the log names the user: it is an
			// erased (or merged) one.
			return fmt.Errorf("badgerstore: finish an interrupted purge: %w", engine.WithoutUser(err, id))
		}
	}
	if len(ids) > 0 {
		db.log.InfoContext(ctx, "badgerstore: finished interrupted purges", "users", len(ids))
	}
	return nil
}

// ErasedToForget returns up to limit erased users whose ids the scheduler
// has yet to take out of the delivery tasks waiting in Redis.
func (db *DB) ErasedToForget(ctx context.Context, limit int) ([]engine.UserID, error) {
	var out []engine.UserID
	err := db.view(ctx, func(txn *badger.Txn) error {
		prefix := []byte(pForget)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < limit; it.Next() {
			out = append(out, engine.UserID(it.Item().Key()[len(prefix):]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("erased users to forget: %w", err)
	}
	return out, nil
}

// Forgotten records that the scheduler has queued the removal of ids from
// the tasks in Redis.
func (db *DB) Forgotten(ctx context.Context, ids []engine.UserID) error {
	err := db.update(ctx, func(txn *badger.Txn) error {
		for _, id := range ids {
			if err := txn.Delete(userKey(pForget, id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forgotten erased users: %w", err)
	}
	return nil
}
