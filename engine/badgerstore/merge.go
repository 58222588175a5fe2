package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// Merge moves the user m.Absorbed into m.Survivor and deletes it. In one
// transaction it
//
//   - moves the absorbed ledger after the survivor's, in its order, keeping
//     each record's id and times and setting MergedFrom to the absorbed user,
//     then appends m.Records (see engine.MergeConsents);
//   - moves the identities, and links m.Identity (if set) to the survivor;
//   - keeps the survivor's preferences, or takes the absorbed user's if the
//     survivor had none;
//   - unions the interest tags (a tag both have keeps the larger weight,
//     both decayed to the later of their times) and
//     the deleted tags, and drops every deleted tag;
//   - adds the absorbed user's order count to the survivor's and keeps the
//     earlier first purchase;
//   - deletes the absorbed user and writes m.Effects.
//
// The usage log, events and decision index are then moved in smaller transactions
// before Merge returns (doc.go, "Removing users"). Returns ErrInvalid for a
// malformed merge, ErrNotFound if either user is unknown, and an
// *engine.IdentityConflict if a third user holds m.Identity.
func (db *DB) Merge(ctx context.Context, m engine.Merge) error {
	if err := checkMerge(m); err != nil {
		return err
	}
	surv, abs := m.Survivor, m.Absorbed
	defer db.deltas.forget(surv, abs)
	defer db.tps.forget(surv, abs)
	var buf []byte
	err := db.update(ctx, func(txn *badger.Txn) error {
		var su, au engine.User
		if err := getJSON(txn, userKey(pUser, surv), &su); err != nil {
			return fmt.Errorf("user %s: %w", surv, err)
		}
		if err := getJSON(txn, userKey(pUser, abs), &au); err != nil {
			return fmt.Errorf("user %s: %w", abs, err)
		}

		entries, err := scanLedgerEntries(ctx, txn, abs, userRange(pConsent, abs))
		if err != nil {
			return err
		}
		moved := make([]engine.ConsentRecord, len(entries))
		for i, e := range entries {
			if err := txn.Delete(consentKey(abs, purposeCodes[e.rec.Purpose], e.seq)); err != nil {
				return err
			}
			moved[i] = e.rec
		}
		if buf, err = db.appendLedger(txn, surv, moved, abs, buf); err != nil {
			return err
		}
		if buf, err = db.appendLedger(txn, surv, m.Records, "", buf); err != nil {
			return err
		}

		idents, err := identities(ctx, txn, abs)
		if err != nil {
			return err
		}
		for _, ident := range idents {
			if err := txn.Delete(userIdentKey(abs, ident)); err != nil {
				return err
			}
			if err := linkIdentity(txn, surv, ident); err != nil {
				return err
			}
		}
		if m.Identity != (engine.Identity{}) {
			var owner engine.UserID
			switch err := getOwner(txn, m.Identity, &owner); {
			case err == nil && owner != surv && owner != abs:
				return &engine.IdentityConflict{Owner: owner}
			case err == nil: // already the survivor's, or moved above
			case errors.Is(err, badger.ErrKeyNotFound):
				if err := linkIdentity(txn, surv, m.Identity); err != nil {
					return err
				}
			default:
				return err
			}
		}

		if err := mergePreferences(txn, surv, abs); err != nil {
			return err
		}
		if err := mergeInterests(txn, surv, abs); err != nil {
			return err
		}

		su.OrderCount += au.OrderCount
		if !au.FirstPurchaseAt.IsZero() && (su.FirstPurchaseAt.IsZero() || au.FirstPurchaseAt.Before(su.FirstPurchaseAt)) {
			su.FirstPurchaseAt = au.FirstPurchaseAt
		}
		su.UpdatedAt = time.Now()
		if err := setJSON(txn, userKey(pUser, surv), su); err != nil {
			return err
		}
		for _, p := range [...]string{pUser, pSeq, pPrefs, pInterests} {
			if err := txn.Delete(userKey(p, abs)); err != nil {
				return err
			}
		}
		if err := txn.Set(userKey(pPurge, abs), []byte(surv)); err != nil {
			return err
		}
		return db.writeEffects(txn, m.Effects)
	})
	if err != nil {
		return fmt.Errorf("merge %s into %s: %w", abs, surv, err)
	}
	if err := db.dec.flush(ctx); err != nil {
		return fmt.Errorf("merge %s into %s: %w", abs, surv, err)
	}
	if err := db.act.flush(ctx); err != nil {
		return fmt.Errorf("merge %s into %s: %w", abs, surv, err)
	}
	if err := db.finishPurge(ctx, abs); err != nil {
		return fmt.Errorf("merge %s into %s: %w", abs, surv, err)
	}
	return nil
}

func checkMerge(m engine.Merge) error {
	switch {
	case m.Survivor == "":
		return engine.Invalid("survivor", "is required")
	case m.Absorbed == "":
		return engine.Invalid("absorbed", "is required")
	case m.Survivor == m.Absorbed:
		return engine.Invalid("absorbed", "is the survivor")
	}
	if m.Identity != (engine.Identity{}) {
		if err := m.Identity.Validate(); err != nil {
			return err
		}
	}
	return checkRecords(m.Records)
}

// mergePreferences gives surv the preferences of abs if it has none.
func mergePreferences(txn *badger.Txn, surv, abs engine.UserID) error {
	has, err := exists(txn, userKey(pPrefs, surv))
	if err != nil || has {
		return err
	}
	item, err := txn.Get(userKey(pPrefs, abs))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	return txn.Set(userKey(pPrefs, surv), v)
}

// mergeInterests unions the interests of abs into surv's, each with its
// deltas folded in (and deleted).
func mergeInterests(txn *badger.Txn, surv, abs engine.UserID) error {
	a, absDeltas, err := loadInterests(txn, abs)
	if err != nil {
		return err
	}
	if err := deleteKeys(txn, absDeltas); err != nil {
		return err
	}
	if len(a.Tags) == 0 && len(a.Deleted) == 0 {
		return nil
	}
	s, survDeltas, err := loadInterests(txn, surv)
	if err != nil {
		return err
	}
	if err := deleteKeys(txn, survDeltas); err != nil {
		return err
	}
	for _, d := range a.Deleted {
		if !slices.Contains(s.Deleted, d) {
			s.Deleted = append(s.Deleted, d)
		}
	}
	for _, t := range a.Tags {
		i := slices.IndexFunc(s.Tags, func(x engine.InterestTag) bool { return x.Tag == t.Tag })
		switch {
		case i < 0:
			s.Tags = append(s.Tags, t)
		default: // compare the weights at the later of the two times
			at := s.Tags[i].UpdatedAt
			if t.UpdatedAt.After(at) {
				at = t.UpdatedAt
			}
			s.Tags[i].Weight = max(engine.Decay(s.Tags[i].Weight, s.Tags[i].UpdatedAt, at), engine.Decay(t.Weight, t.UpdatedAt, at))
			s.Tags[i].UpdatedAt = at
		}
	}
	s.Tags = slices.DeleteFunc(s.Tags, func(t engine.InterestTag) bool { return slices.Contains(s.Deleted, t.Tag) })
	return putInterests(txn, surv, s)
}
