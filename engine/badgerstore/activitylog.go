package badgerstore

import (
	"context"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// The usage-log entries of recommendations are written behind the request,
// like the decision log: one is written on every personalized list, and
// making each request wait for its own synced commit put an fsync on the
// latency of every list. QueueActivity queues an entry; one writer
// goroutine, started by Open and stopped by Close (before the group
// committer and Badger), commits what is queued in batches through the
// group committer, so they are synced like every write, a batch at a time.
// Activity flushes the queue before it reads, so a shopper always sees the
// entries of the lists already served. A crash loses at most the entries
// not yet committed (up to activityWindow of them); an entry of a user erased
// meanwhile is skipped by putActivity.

// maxActivityBatch bounds the entries committed in one transaction.
const maxActivityBatch = 512

// activityWindow is the least time between two commits of queued entries.
// Badger makes every read transaction wait for the commits in flight,
// fsync included, so a writer committing back to back stalled every read
// of the store (a third of a recommendation's time, BenchmarkServiceRecommend).
// Commits at most every activityWindow keep that to a few reads in a
// hundred; an entry queued after a quiet spell is still written at once.
const activityWindow = 100 * time.Millisecond

type activityLog struct {
	db       *DB
	q        chan engine.ActivityEntry
	wait     time.Duration // how long QueueActivity waits for room in q
	flushReq chan chan struct{}
	stopReq  chan struct{}
	done     chan struct{}
	dropped  atomic.Uint64
	commits  atomic.Uint64 // transactions written, for tests
}

func (l *activityLog) start(db *DB) {
	l.db = db
	l.q = make(chan engine.ActivityEntry, db.opts.DecisionQueue)
	l.wait = db.opts.DecisionWait
	l.flushReq = make(chan chan struct{})
	l.stopReq = make(chan struct{})
	l.done = make(chan struct{})
	go l.run()
}

// stop writes what is queued and stops the writer.
func (l *activityLog) stop() {
	close(l.stopReq)
	<-l.done
}

func (l *activityLog) run() {
	defer close(l.done)
	batch := make([]engine.ActivityEntry, 0, 64)
	due := time.NewTimer(time.Hour) // Go 1.23 timers: Stop and Reset leave no stale tick
	due.Stop()
	waiting := false // due is set for batch
	var last time.Time
	write := func() {
		due.Stop()
		waiting = false
		if len(batch) > 0 {
			l.write(batch)
			batch, last = batch[:0], time.Now()
		}
	}
	for {
		select {
		case e := <-l.q:
			batch = append(batch, e)
			switch {
			case len(batch) >= maxActivityBatch:
				write()
			case !waiting:
				due.Reset(time.Until(last.Add(activityWindow)))
				waiting = true
			}
		case <-due.C:
			write()
		case ack := <-l.flushReq:
			write()
			l.writeQueued(batch)
			close(ack)
		case <-l.stopReq:
			write()
			l.writeQueued(batch)
			return
		}
	}
}

// writeQueued writes every entry queued now, in batches, reusing batch.
func (l *activityLog) writeQueued(batch []engine.ActivityEntry) {
	for n := len(l.q); n > 0; {
		batch = batch[:0]
		for ; n > 0 && len(batch) < maxActivityBatch; n-- {
			batch = append(batch, <-l.q)
		}
		l.write(batch)
	}
}

// write commits batch through the group committer directly: Close stops
// this writer after marking the DB closed, so db.update would refuse.
func (l *activityLog) write(batch []engine.ActivityEntry) {
	err := l.db.group.do(func(txn *badger.Txn) error { return l.db.putActivity(txn, batch, true) })
	l.commits.Add(1)
	if err != nil {
		l.dropped.Add(uint64(len(batch)))
		l.db.log.Error("badgerstore: usage-log entries lost", "entries", len(batch), "err", err)
	}
}

// flush returns once every entry queued before the call is written.
func (l *activityLog) flush(ctx context.Context) error {
	return awaitFlush(ctx, l.flushReq, l.done)
}

// QueueActivity adds entries to their users' usage logs without waiting for
// disk (see above); if the queue is full it waits up to
// Options.DecisionWait for room. Entries queued after Close, or still
// finding no room, are dropped and counted in DroppedActivity.
func (db *DB) QueueActivity(entries ...engine.ActivityEntry) {
	l := &db.act
	for _, e := range entries {
		if db.closed.Load() {
			l.dropped.Add(1)
			continue
		}
		select {
		case l.q <- e:
			continue
		default:
		}
		t := time.NewTimer(l.wait)
		select {
		case l.q <- e:
		case <-t.C:
			l.dropped.Add(1)
			db.log.Warn("badgerstore: usage-log writer is stuck; an entry was dropped")
		}
		t.Stop()
	}
}

// DroppedActivity returns how many entries QueueActivity dropped since Open.
func (db *DB) DroppedActivity() uint64 { return db.act.dropped.Load() }
