package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// errPurgePending reports that a removed user with the same id is still
// being purged; PutUser finishes the purge and tries again.
var errPurgePending = errors.New("badgerstore: purge pending")

// PutUser creates the user id with profile p, or updates its profile,
// keeping the derived fields (OrderCount, FirstPurchaseAt) and CreatedAt. It
// returns the stored user with its identities. Returns ErrInvalid if id or p
// is not valid.
func (db *DB) PutUser(ctx context.Context, id engine.UserID, p engine.Profile, now time.Time) (engine.User, error) {
	if err := id.Validate(); err != nil {
		return engine.User{}, err
	}
	if err := p.Validate(now); err != nil {
		return engine.User{}, err
	}
	defer db.lockUser(id)()
	var u engine.User
	for range 3 {
		err := db.update(ctx, func(txn *badger.Txn) error {
			pending, err := exists(txn, userKey(pPurge, id))
			if err != nil {
				return err
			}
			if pending {
				return errPurgePending
			}
			u = engine.User{}
			switch err := getJSON(txn, userKey(pUser, id), &u); {
			case errors.Is(err, badger.ErrKeyNotFound):
				u = engine.User{ID: id, CreatedAt: now}
			case err != nil:
				return err
			}
			u.Name, u.Region, u.TimeZone, u.Locale = p.Name, p.Region, p.TimeZone, p.Locale
			u.Birthday, u.Tier, u.Minor, u.GuardianConsent = p.Birthday, p.Tier, p.Minor, p.GuardianConsent
			u.UpdatedAt = now
			u.Identities = nil
			if err := setJSON(txn, userKey(pUser, id), u); err != nil {
				return err
			}
			u.Identities, err = identities(ctx, txn, id)
			return err
		})
		if !errors.Is(err, errPurgePending) {
			if err != nil {
				return engine.User{}, fmt.Errorf("put user %s: %w", id, err)
			}
			return u, nil
		}
		if err := db.finishPurge(ctx, id); err != nil {
			return engine.User{}, fmt.Errorf("put user %s: %w", id, err)
		}
	}
	return engine.User{}, fmt.Errorf("put user %s: a purge of the old user keeps pending: %w", id, engine.ErrConflict)
}

// User returns the user id with its identities. Returns ErrNotFound if there
// is no such user.
func (db *DB) User(ctx context.Context, id engine.UserID) (engine.User, error) {
	var u engine.User
	err := db.view(ctx, func(txn *badger.Txn) error {
		if err := getJSON(txn, userKey(pUser, id), &u); err != nil {
			return err
		}
		var err error
		u.Identities, err = identities(ctx, txn, id)
		return err
	})
	if err != nil {
		return engine.User{}, fmt.Errorf("user %s: %w", id, err)
	}
	return u, nil
}

// UserConsents returns, in one read transaction, id's profile without its
// identities and id's records of purpose in append order: what a
// recommendation reads before its consent decision.
func (db *DB) UserConsents(ctx context.Context, id engine.UserID, purpose engine.Purpose) (engine.User, []engine.ConsentRecord, error) {
	code, ok := purposeCodes[purpose]
	if !ok {
		return engine.User{}, nil, engine.Invalid("purpose", "unknown purpose %q; want one of %v", purpose, engine.Purposes)
	}
	var u engine.User
	var records []engine.ConsentRecord
	err := db.view(ctx, func(txn *badger.Txn) error {
		if err := getJSON(txn, userKey(pUser, id), &u); err != nil {
			return err
		}
		var err error
		records, err = scanLedger(ctx, txn, id, append(userRange(pConsent, id), code))
		return err
	})
	if err != nil {
		return engine.User{}, nil, fmt.Errorf("user %s: %w", id, err)
	}
	return u, records, nil
}

// Subject returns the facts about id that consent depends on, without the
// rest of the profile (a cheaper read than User, for consent writes).
func (db *DB) Subject(ctx context.Context, id engine.UserID) (engine.Subject, error) {
	var subj engine.Subject
	err := db.view(ctx, func(txn *badger.Txn) error { return getSubject(txn, id, &subj) })
	if err != nil {
		return engine.Subject{}, fmt.Errorf("user %s: %w", id, err)
	}
	return subj, nil
}

// identities lists id's identities in key order (type, then value).
func identities(ctx context.Context, txn *badger.Txn, id engine.UserID) ([]engine.Identity, error) {
	prefix := userRange(pUserIdent, id)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var out []engine.Identity
	for it.Rewind(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ident, ok := splitIdentity(it.Item().Key()[len(prefix):])
		if !ok {
			return nil, fmt.Errorf("badgerstore: corrupt identity key %q", it.Item().Key())
		}
		out = append(out, ident)
	}
	return out, nil
}

// splitIdentity parses <type>\x00<value>.
func splitIdentity(b []byte) (engine.Identity, bool) {
	for i, c := range b {
		if c == 0 {
			return engine.Identity{Type: engine.IdentityType(b[:i]), Value: string(b[i+1:])}, true
		}
	}
	return engine.Identity{}, false
}

// AddIdentity links ident to the user id and writes fx with it. Linking an
// identity again to its owner is a no-op (fx is not written). Returns
// ErrInvalid for a malformed identity, ErrNotFound for an unknown user, and
// an *engine.IdentityConflict (ErrConflict) naming the owner when another
// user holds ident.
func (db *DB) AddIdentity(ctx context.Context, id engine.UserID, ident engine.Identity, fx engine.Effects) error {
	if err := ident.Validate(); err != nil {
		return err
	}
	err := db.update(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		var owner engine.UserID
		switch err := getOwner(txn, ident, &owner); {
		case err == nil && owner == id:
			return nil
		case err == nil:
			return &engine.IdentityConflict{Owner: owner}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		if err := linkIdentity(txn, id, ident); err != nil {
			return err
		}
		return db.writeEffects(txn, fx)
	})
	if err != nil {
		return fmt.Errorf("add identity to %s: %w", id, err)
	}
	return nil
}

func getOwner(txn *badger.Txn, ident engine.Identity, owner *engine.UserID) error {
	item, err := txn.Get(identKey(ident))
	if err != nil {
		return err
	}
	return item.Value(func(v []byte) error {
		*owner = engine.UserID(v)
		return nil
	})
}

func linkIdentity(txn *badger.Txn, id engine.UserID, ident engine.Identity) error {
	if err := txn.Set(identKey(ident), []byte(id)); err != nil {
		return err
	}
	return txn.Set(userIdentKey(id, ident), nil)
}

// ResolveIdentity returns the user ident is linked to. Returns ErrNotFound
// if it is linked to none.
func (db *DB) ResolveIdentity(ctx context.Context, ident engine.Identity) (engine.UserID, error) {
	var owner engine.UserID
	err := db.view(ctx, func(txn *badger.Txn) error { return getOwner(txn, ident, &owner) })
	if err != nil {
		return "", fmt.Errorf("resolve identity: %w", err)
	}
	return owner, nil
}

// getSubject reads the facts consent depends on from id's profile. It
// returns badger.ErrKeyNotFound if the user is missing.
func getSubject(txn *badger.Txn, id engine.UserID, subj *engine.Subject) error {
	k := userKey(pUser, id)
	item, err := txn.Get(k)
	if err != nil {
		return err
	}
	return item.Value(func(v []byte) error {
		if decodeSubject(v, subj) {
			return nil
		}
		return unmarshal(k, v, subj)
	})
}

// decodeSubject reads minor and guardian_consent from v, a profile as
// json.Marshal writes it, without decoding the rest; it reports false when
// it cannot tell (then json.Unmarshal decides). json.Marshal escapes every
// quote inside a string, so `"minor":` can only be a key.
func decodeSubject(v []byte, subj *engine.Subject) bool {
	if len(v) == 0 || v[0] != '{' {
		return false
	}
	minor, ok1 := jsonBool(v, `"minor":`)
	guardian, ok2 := jsonBool(v, `"guardian_consent":`)
	if !ok1 || !ok2 {
		return false
	}
	*subj = engine.Subject{Minor: minor, GuardianConsent: guardian}
	return true
}

// jsonBool finds the one occurrence of key in v and the literal true or
// false after it.
func jsonBool(v []byte, key string) (value, ok bool) {
	i := bytes.Index(v, []byte(key))
	if i < 0 || bytes.Index(v[i+len(key):], []byte(key)) >= 0 {
		return false, false
	}
	rest := v[i+len(key):]
	switch {
	case bytes.HasPrefix(rest, []byte("true")):
		return true, true
	case bytes.HasPrefix(rest, []byte("false")):
		return false, true
	}
	return false, false
}
