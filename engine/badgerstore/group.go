package badgerstore

import (
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// Badger v4 syncs its write-ahead log once per committed transaction, so
// concurrent writers each pay a full fsync. The committer gives them group
// commit: it runs the write functions queued while the previous commit was
// syncing in one transaction, so they share one fsync. A function that
// fails is dropped from its batch and the others run again without it, so
// its writes never land; a conflicting batch falls back to one transaction
// each.
type committer struct {
	kv    *badger.DB
	reqs  chan *commitReq
	done  chan struct{} // closed when run returns
	retry func(fn func(*badger.Txn) error) error
}

type commitReq struct {
	fn  func(*badger.Txn) error
	err chan error
}

// maxGroup bounds the write functions committed together.
const maxGroup = 128

func newCommitter(kv *badger.DB, retry func(fn func(*badger.Txn) error) error) *committer {
	c := &committer{kv: kv, reqs: make(chan *commitReq), done: make(chan struct{}), retry: retry}
	go c.run()
	return c
}

// do runs fn in a read-write transaction shared with other writers and
// returns once that transaction is committed (on disk) or fn failed. fn
// must derive everything it writes from what it reads in txn.
func (c *committer) do(fn func(*badger.Txn) error) error {
	r := &commitReq{fn: fn, err: make(chan error, 1)}
	c.reqs <- r
	return <-r.err
}

// stop ends run once the requests in flight are answered; no do may follow.
func (c *committer) stop() {
	close(c.reqs)
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	batch := make([]*commitReq, 0, maxGroup)
	for r := range c.reqs {
		batch = append(batch[:0], r)
	gather:
		for len(batch) < maxGroup {
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			default:
				break gather
			}
		}
		c.commit(batch)
	}
}

// commit commits batch and answers every request in it.
func (c *committer) commit(batch []*commitReq) {
	for len(batch) > 0 {
		if len(batch) == 1 {
			batch[0].err <- c.retry(batch[0].fn)
			return
		}
		txn := c.kv.NewTransaction(true)
		failed, ferr := -1, error(nil)
		for i, r := range batch {
			if err := r.fn(txn); err != nil {
				failed, ferr = i, err
				break
			}
		}
		if failed >= 0 {
			txn.Discard()
			if errors.Is(ferr, badger.ErrTxnTooBig) && failed > 0 {
				c.commit(batch[:failed]) // what fits goes first; the rest again
				batch = batch[failed:]
				continue
			}
			batch[failed].err <- ferr
			batch = append(batch[:failed:failed], batch[failed+1:]...)
			continue
		}
		err := txn.Commit()
		if errors.Is(err, badger.ErrConflict) {
			for _, r := range batch { // a concurrent writer touched what one of them read
				r.err <- c.retry(r.fn)
			}
			return
		}
		for _, r := range batch {
			r.err <- err
		}
		return
	}
}
