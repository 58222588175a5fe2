package badgerstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// The decision log is on the path of every request (up to ~10k/s), so
// LogDecision never waits: it encodes the decision, keeps it in a map of
// pending decisions (so Decision finds it at once) and queues it. One writer
// goroutine, started by Open and stopped by Close, stores queued decisions
// in batches with a badger.WriteBatch, with a TTL of Options.DecisionTTL.
// Badger's SyncWrites is per database, so each batch is synced too, but
// nobody waits for it. When the queue is full a decision is dropped and
// counted (DroppedDecisions): losing a log line beats stalling requests.
//
// Shutdown: Close stops the writer after the GC goroutine and before closing
// Badger; the writer writes everything queued, then exits.

// maxDecisionBatch bounds the decisions written in one batch.
const maxDecisionBatch = 1024

type queuedDecision struct {
	id   string
	user engine.UserID
	val  []byte // JSON of engine.Decision
}

type decisionLog struct {
	db       *DB
	q        chan queuedDecision
	flushReq chan chan struct{}
	stopReq  chan struct{}
	done     chan struct{}
	dropped  atomic.Uint64

	mu      sync.Mutex
	pending map[string][]byte // guarded by mu: queued, not yet written
}

func (l *decisionLog) start(db *DB) {
	l.db = db
	l.q = make(chan queuedDecision, db.opts.DecisionQueue)
	l.flushReq = make(chan chan struct{})
	l.stopReq = make(chan struct{})
	l.done = make(chan struct{})
	l.pending = make(map[string][]byte)
	go l.run()
}

// stop writes what is queued and stops the writer.
func (l *decisionLog) stop() {
	close(l.stopReq)
	<-l.done
}

func (l *decisionLog) run() {
	defer close(l.done)
	batch := make([]queuedDecision, 0, 64)
	for {
		select {
		case d := <-l.q:
			batch = append(batch[:0], d)
			for len(batch) < maxDecisionBatch {
				select {
				case d := <-l.q:
					batch = append(batch, d)
					continue
				default:
				}
				break
			}
			l.write(batch)
		case ack := <-l.flushReq:
			l.writeQueued(batch)
			close(ack)
		case <-l.stopReq:
			l.writeQueued(batch)
			return
		}
	}
}

// writeQueued writes every decision queued now, in batches.
func (l *decisionLog) writeQueued(batch []queuedDecision) {
	for n := len(l.q); n > 0; {
		batch = batch[:0]
		for ; n > 0 && len(batch) < maxDecisionBatch; n-- {
			batch = append(batch, <-l.q)
		}
		l.write(batch)
	}
}

// write stores batch and drops it from the pending map.
func (l *decisionLog) write(batch []queuedDecision) {
	ttl := l.db.opts.DecisionTTL
	wb := l.db.kv.NewWriteBatch()
	err := func() error {
		for _, d := range batch {
			if err := wb.SetEntry(badger.NewEntry(key(pDecision, d.id), d.val).WithTTL(ttl)); err != nil {
				return err
			}
			if d.user != "" {
				if err := wb.SetEntry(badger.NewEntry(key(pDecisionUser, string(d.user), d.id), nil).WithTTL(ttl)); err != nil {
					return err
				}
			}
		}
		return wb.Flush()
	}()
	if err != nil {
		wb.Cancel()
		l.dropped.Add(uint64(len(batch)))
		l.db.log.Error("badgerstore: write decision log", "err", err, "decisions", len(batch))
	}
	l.mu.Lock()
	for _, d := range batch {
		delete(l.pending, d.id)
	}
	l.mu.Unlock()
}

// flush returns once every decision queued before the call is written.
func (l *decisionLog) flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case l.flushReq <- ack:
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LogDecision queues d for the decision log without waiting for disk. A
// decision without an id, one logged after Close, or one that finds the
// queue full is dropped and counted in DroppedDecisions.
func (db *DB) LogDecision(d engine.Decision) {
	l := &db.dec
	if d.ID == "" || db.closed.Load() {
		l.dropped.Add(1)
		return
	}
	// Encode now: Input and Result may be changed by the caller later.
	val, err := json.Marshal(d)
	if err != nil {
		l.dropped.Add(1)
		db.log.Error("badgerstore: encode decision", "decision_id", d.ID, "err", err)
		return
	}
	l.mu.Lock()
	l.pending[d.ID] = val
	l.mu.Unlock()
	select {
	case l.q <- queuedDecision{id: d.ID, user: d.User, val: val}:
	default:
		l.mu.Lock()
		delete(l.pending, d.ID)
		l.mu.Unlock()
		l.dropped.Add(1)
	}
}

// DroppedDecisions returns how many decisions LogDecision dropped since Open.
func (db *DB) DroppedDecisions() uint64 { return db.dec.dropped.Load() }

// Decision returns the logged decision id, including one still queued.
// Returns ErrNotFound if there is none (never logged, dropped, expired, or
// erased with its user).
func (db *DB) Decision(ctx context.Context, id string) (engine.Decision, error) {
	if db.closed.Load() {
		return engine.Decision{}, errClosed
	}
	var d engine.Decision
	db.dec.mu.Lock()
	val, ok := db.dec.pending[id]
	db.dec.mu.Unlock()
	if ok {
		if err := unmarshal(key(pDecision, id), val, &d); err != nil {
			return engine.Decision{}, err
		}
		return d, nil
	}
	err := db.view(ctx, func(txn *badger.Txn) error { return getJSON(txn, key(pDecision, id), &d) })
	if err != nil {
		return engine.Decision{}, fmt.Errorf("decision %s: %w", id, err)
	}
	return d, nil
}
