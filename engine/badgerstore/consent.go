package badgerstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// AppendConsents appends records, whose ids and times are already set, to
// the ledger of id, in order, and writes fx in the same transaction. Each
// record's User is set to id. Returns ErrNotFound for an unknown user and
// ErrInvalid for a record without an id or with an unknown purpose.
func (db *DB) AppendConsents(ctx context.Context, id engine.UserID, records []engine.ConsentRecord, fx engine.Effects) error {
	if err := checkRecords(records); err != nil {
		return err
	}
	defer db.lockUser(id)()
	var buf []byte
	err := db.update(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		var err error
		if buf, err = db.appendLedger(txn, id, records, "", buf); err != nil {
			return err
		}
		return db.writeEffects(txn, fx)
	})
	if err != nil {
		return fmt.Errorf("append consents of %s: %w", id, err)
	}
	return nil
}

func checkRecords(records []engine.ConsentRecord) error {
	for i, r := range records {
		if _, ok := purposeCodes[r.Purpose]; !ok {
			return engine.Invalid(fmt.Sprintf("records[%d].purpose", i), "unknown purpose %q; want one of %v", r.Purpose, engine.Purposes)
		}
		if r.ID == "" {
			return engine.Invalid(fmt.Sprintf("records[%d].id", i), "is required")
		}
	}
	return nil
}

// appendLedger writes records at the end of id's ledger and moves s/<id>.
// With from set, it marks them as merged from that user. buf is scratch
// space, returned for reuse.
func (db *DB) appendLedger(txn *badger.Txn, id engine.UserID, records []engine.ConsentRecord, from engine.UserID, buf []byte) ([]byte, error) {
	if len(records) == 0 {
		return buf, nil
	}
	last, err := lastSeq(txn, id)
	if err != nil {
		return buf, err
	}
	for _, r := range records {
		r.User = id
		if from != "" {
			r.MergedFrom = from
		}
		last = db.seq.next(last)
		buf = appendConsent(buf[:0], &r)
		// Set keeps the slice until commit, so each value needs its own copy.
		if err := txn.Set(consentKey(id, purposeCodes[r.Purpose], last), slices.Clone(buf)); err != nil {
			return buf, err
		}
	}
	return buf, txn.Set(userKey(pSeq, id), binary.BigEndian.AppendUint64(nil, last))
}

// lastSeq returns the sequence of id's newest ledger record, or 0. Reading
// it also makes concurrent appends to one ledger conflict, so one of them
// is retried and commit order matches key order.
func lastSeq(txn *badger.Txn, id engine.UserID) (uint64, error) {
	item, err := txn.Get(userKey(pSeq, id))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return 0, nil
	case err != nil:
		return 0, err
	}
	var last uint64
	err = item.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("badgerstore: corrupt ledger sequence of %s", id)
		}
		last = binary.BigEndian.Uint64(v)
		return nil
	})
	return last, err
}

// Consents returns the ledger of id in append order; with purpose set, only
// that purpose's records. Returns ErrNotFound for an unknown user and
// ErrInvalid for an unknown purpose.
func (db *DB) Consents(ctx context.Context, id engine.UserID, purpose engine.Purpose) ([]engine.ConsentRecord, error) {
	prefix := userRange(pConsent, id)
	if purpose != "" {
		code, ok := purposeCodes[purpose]
		if !ok {
			return nil, engine.Invalid("purpose", "unknown purpose %q; want one of %v", purpose, engine.Purposes)
		}
		prefix = append(prefix, code)
	}
	var out []engine.ConsentRecord
	err := db.view(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		var err error
		out, err = scanLedger(ctx, txn, id, prefix)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("consents of %s: %w", id, err)
	}
	return out, nil
}

// ConsentSubject returns, in one read, the facts about id that consent
// depends on and id's ledger records of purpose in append order: what a
// consent decision needs, on the hottest path of the API.
func (db *DB) ConsentSubject(ctx context.Context, id engine.UserID, purpose engine.Purpose) (engine.Subject, []engine.ConsentRecord, error) {
	code, ok := purposeCodes[purpose]
	if !ok {
		return engine.Subject{}, nil, engine.Invalid("purpose", "unknown purpose %q; want one of %v", purpose, engine.Purposes)
	}
	var subj engine.Subject
	var out []engine.ConsentRecord
	err := db.view(ctx, func(txn *badger.Txn) error {
		if err := getSubject(txn, id, &subj); err != nil {
			return err
		}
		var err error
		out, err = scanLedger(ctx, txn, id, append(userRange(pConsent, id), code))
		return err
	})
	if err != nil {
		return engine.Subject{}, nil, fmt.Errorf("consents of %s: %w", id, err)
	}
	return subj, out, nil
}

// ConsentSubjects is ConsentSubject for many users in one read
// transaction, with one iterator over the ledger: what deciding a batch of
// events needs. out[i] is about ids[i]; an unknown user's has Found false.
// Returns ErrInvalid for an unknown purpose.
func (db *DB) ConsentSubjects(ctx context.Context, ids []engine.UserID, purpose engine.Purpose) ([]engine.SubjectRecords, error) {
	code, ok := purposeCodes[purpose]
	if !ok {
		return nil, engine.Invalid("purpose", "unknown purpose %q; want one of %v", purpose, engine.Purposes)
	}
	out := make([]engine.SubjectRecords, len(ids))
	err := db.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pConsent)})
		defer it.Close()
		var k []byte
		for i, id := range ids {
			if err := ctx.Err(); err != nil {
				return err
			}
			r := &out[i]
			switch err := getSubject(txn, id, &r.Subject); {
			case isNotFound(err):
				continue
			case err != nil:
				return err
			}
			r.Found = true
			k = append(append(append(k[:0], pConsent...), id...), 0, code)
			entries, err := ledgerEntries(ctx, it, id, k)
			if err != nil {
				return err
			}
			if len(entries) > 0 {
				r.Records = make([]engine.ConsentRecord, len(entries))
				for j := range entries {
					r.Records[j] = entries[j].rec
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("consent subjects: %w", err)
	}
	return out, nil
}

// A ledgerEntry is a decoded record with its sequence.
type ledgerEntry struct {
	seq uint64
	rec engine.ConsentRecord
}

// scanLedger returns the records of id under prefix (all of the user's, or
// one purpose's), in append order.
func scanLedger(ctx context.Context, txn *badger.Txn, id engine.UserID, prefix []byte) ([]engine.ConsentRecord, error) {
	entries, err := scanLedgerEntries(ctx, txn, id, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]engine.ConsentRecord, len(entries))
	for i := range entries {
		out[i] = entries[i].rec
	}
	return out, nil
}

// scanLedgerEntries is scanLedger with the records' sequences.
func scanLedgerEntries(ctx context.Context, txn *badger.Txn, id engine.UserID, prefix []byte) ([]ledgerEntry, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	return ledgerEntries(ctx, it, id, prefix)
}

// ledgerEntries reads the records of id under prefix with it, which may
// serve other prefixes too (it seeks to prefix and stops at its end).
func ledgerEntries(ctx context.Context, it *badger.Iterator, id engine.UserID, prefix []byte) ([]ledgerEntry, error) {
	it.Seek(prefix)
	return ledgerHere(ctx, it, id, prefix)
}

// ledgerHere is ledgerEntries with it already at or before the first key
// of prefix (seekForward put it there).
func ledgerHere(ctx context.Context, it *badger.Iterator, id engine.UserID, prefix []byte) ([]ledgerEntry, error) {
	var out []ledgerEntry
	sorted := true
	for ; it.ValidForPrefix(prefix); it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		item := it.Item()
		k := item.Key()
		if len(k) < 9 {
			return nil, fmt.Errorf("badgerstore: corrupt consent key %q", k)
		}
		e := ledgerEntry{seq: binary.BigEndian.Uint64(k[len(k)-8:])}
		e.rec.User = id
		e.rec.Purpose = purposeByCode[k[len(k)-9]]
		if err := item.Value(func(v []byte) error { return decodeConsent(v, &e.rec) }); err != nil {
			return nil, fmt.Errorf("%w (key %q)", err, k)
		}
		if n := len(out); n > 0 && out[n-1].seq > e.seq {
			sorted = false // a new purpose's range: merge below
		}
		out = append(out, e)
	}
	if !sorted {
		slices.SortStableFunc(out, func(a, b ledgerEntry) int {
			switch {
			case a.seq < b.seq:
				return -1
			case a.seq > b.seq:
				return 1
			}
			return 0
		})
	}
	return out, nil
}
