package badgerstore

import (
	"context"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Campaigns and their runs are stored as the campaigns package encodes
// them: this package keeps the documents and knows nothing of their shape.

// PutCampaign stores the document of campaign id.
func (db *DB) PutCampaign(ctx context.Context, id string, doc []byte) error {
	err := db.update(ctx, func(txn *badger.Txn) error { return txn.Set(key(pCampaign, id), doc) })
	if err != nil {
		return fmt.Errorf("put campaign %s: %w", id, err)
	}
	return nil
}

// UpdateCampaign runs fn on the document of campaign id and stores what it
// returns; fn may run more than once. Returns ErrNotFound if there is no
// such campaign, and fn's error as it is.
func (db *DB) UpdateCampaign(ctx context.Context, id string, fn func(doc []byte) ([]byte, error)) error {
	if err := db.updateDoc(ctx, key(pCampaign, id), fn); err != nil {
		return fmt.Errorf("update campaign %s: %w", id, err)
	}
	return nil
}

// Campaign returns the document of campaign id; ErrNotFound if none.
func (db *DB) Campaign(ctx context.Context, id string) ([]byte, error) {
	var doc []byte
	err := db.view(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(key(pCampaign, id))
		if err != nil {
			return err
		}
		doc, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("campaign %s: %w", id, err)
	}
	return doc, nil
}

// Campaigns returns every campaign document, in id order.
func (db *DB) Campaigns(ctx context.Context) ([][]byte, error) {
	var out [][]byte
	for v, err := range db.scan(ctx, []byte(pCampaign)) {
		if err != nil {
			return nil, fmt.Errorf("campaigns: %w", err)
		}
		out = append(out, v.val)
	}
	return out, nil
}

// DeleteCampaign deletes campaign id and its runs (its deliveries stay in
// the ledger, as the record of what was sent). ErrNotFound if none.
func (db *DB) DeleteCampaign(ctx context.Context, id string) error {
	err := db.update(ctx, func(txn *badger.Txn) error {
		if ok, err := exists(txn, key(pCampaign, id)); err != nil || !ok {
			if err == nil {
				err = badger.ErrKeyNotFound
			}
			return err
		}
		return txn.Delete(key(pCampaign, id))
	})
	if err != nil {
		return fmt.Errorf("delete campaign %s: %w", id, err)
	}
	return nil
}

// AddRun stores the document of run id of campaign unless one is stored
// already, and reports whether it stored it: planning a run twice (two
// planners, a retried task) finds the first.
func (db *DB) AddRun(ctx context.Context, campaign, id string, doc []byte) (bool, error) {
	added := false
	err := db.update(ctx, func(txn *badger.Txn) error {
		added = false
		k := key(pRun, campaign, id)
		if ok, err := exists(txn, k); err != nil || ok {
			return err
		}
		added = true
		return txn.Set(k, doc)
	})
	if err != nil {
		return false, fmt.Errorf("add run %s of %s: %w", id, campaign, err)
	}
	return added, nil
}

// Runs returns the run documents of campaign, in id order.
func (db *DB) Runs(ctx context.Context, campaign string) ([][]byte, error) {
	var out [][]byte
	for v, err := range db.scan(ctx, append(key(pRun, campaign), 0)) {
		if err != nil {
			return nil, fmt.Errorf("runs of %s: %w", campaign, err)
		}
		out = append(out, v.val)
	}
	return out, nil
}

// UpdateRun runs fn on the document of run id of campaign and stores what
// it returns; fn may run more than once. Returns ErrNotFound if there is no
// such run.
func (db *DB) UpdateRun(ctx context.Context, campaign, id string, fn func(doc []byte) ([]byte, error)) error {
	if err := db.updateDoc(ctx, key(pRun, campaign, id), fn); err != nil {
		return fmt.Errorf("update run %s of %s: %w", id, campaign, err)
	}
	return nil
}

// updateDoc runs fn on the document at k and stores what it returns, in
// one transaction; fn may run more than once. A missing k is Badger's
// ErrKeyNotFound (ErrNotFound once wrapped).
func (db *DB) updateDoc(ctx context.Context, k []byte, fn func(doc []byte) ([]byte, error)) error {
	return db.update(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		cur, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		next, err := fn(cur)
		if err != nil {
			return err
		}
		return txn.Set(k, next)
	})
}
