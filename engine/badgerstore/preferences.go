package badgerstore

import (
	"context"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// Preferences returns the preferences of id, or engine.DefaultPreferences
// with Version 0 when none were stored. Returns ErrNotFound for an unknown user.
func (db *DB) Preferences(ctx context.Context, id engine.UserID) (engine.Preferences, error) {
	var p engine.Preferences
	err := db.view(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		var err error
		p, err = getPreferences(txn, id)
		return err
	})
	if err != nil {
		return engine.Preferences{}, fmt.Errorf("preferences of %s: %w", id, err)
	}
	return p, nil
}

func getPreferences(txn *badger.Txn, id engine.UserID) (engine.Preferences, error) {
	var p engine.Preferences
	err := getJSON(txn, userKey(pPrefs, id), &p)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return engine.DefaultPreferences(), nil
	}
	return p, err
}

// UpdatePreferences runs fn on the current preferences of id inside a
// read-write transaction, and stores the preferences and effects fn returns,
// as returned (fn bumps Version). Updates of one user run one at a time,
// and if another transaction on the user commits first, fn runs again on
// the new preferences, so no update is lost. fn must have no effects of its
// own and must not call the DB's writing methods. An error from fn is
// returned as is and nothing is written. Returns ErrNotFound for an unknown
// user.
func (db *DB) UpdatePreferences(ctx context.Context, id engine.UserID, fn func(engine.Preferences) (engine.Preferences, engine.Effects, error)) (engine.Preferences, error) {
	defer db.lockUser(id)()
	var next engine.Preferences
	err := db.update(ctx, func(txn *badger.Txn) error {
		if err := mustExist(txn, id); err != nil {
			return err
		}
		cur, err := getPreferences(txn, id)
		if err != nil {
			return err
		}
		var fx engine.Effects
		next, fx, err = fn(cur)
		if err != nil {
			return err
		}
		if err := setJSON(txn, userKey(pPrefs, id), next); err != nil {
			return err
		}
		return db.writeEffects(txn, fx)
	})
	if err != nil {
		return engine.Preferences{}, fmt.Errorf("update preferences of %s: %w", id, err)
	}
	return next, nil
}
