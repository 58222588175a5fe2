package badgerstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// The decision log is on the path of every request (up to ~10k/s), so
// LogDecision does not wait for disk: it encodes the decision, keeps it in
// a map of pending decisions (so Decision finds it at once) and queues it. One writer
// goroutine, started by Open and stopped by Close, appends queued decisions
// in batches to the segment files (segments.go) and then indexes them
// (d/<id> -> location, du/<user>/<id>) with a badger.WriteBatch, with a TTL
// of Options.DecisionTTL. The index is a Badger database of its own
// (decisions/index, see indexOptions), not the store's. The segments and
// the index are written, not synced: a process crash loses nothing written,
// a power loss may lose the last seconds of the log (an index entry whose
// bytes did not reach the disk reads as not found). When the queue is full
// LogDecision waits for room (Options.DecisionWait): the log is the audit
// trail of invariant 3, so a burst that outruns the writer slows its
// requests down rather than losing their decisions. Only a writer stuck
// for that long makes it drop and count (DroppedDecisions).
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
	idx      *badger.DB // the index
	idxDir   string     // its directory, for trimTables; "" in memory
	segs     segments
	tempDir  bool      // segs.dir is a temporary directory (InMemory), removed by stop
	expired  time.Time // when old segments were last expired; writer only
	q        chan queuedDecision
	wait     time.Duration // how long LogDecision waits for room in q
	flushReq chan chan struct{}
	stopReq  chan struct{}
	done     chan struct{}
	dropped  atomic.Uint64

	mu      sync.Mutex
	pending map[string][]byte // guarded by mu: queued, not yet written
}

func (l *decisionLog) start(db *DB) error {
	l.db = db
	if db.opts.InMemory {
		dir, err := os.MkdirTemp("", "heed-decisions-")
		if err != nil {
			return err
		}
		l.segs.dir, l.tempDir = dir, true
	} else {
		l.segs.dir = filepath.Join(db.opts.Dir, "decisions")
		if err := os.MkdirAll(l.segs.dir, 0o700); err != nil {
			return err
		}
	}
	dir := filepath.Join(l.segs.dir, "index")
	idx, err := badger.Open(indexOptions(dir, db.opts.InMemory, db.log))
	if err != nil {
		if l.tempDir {
			os.RemoveAll(l.segs.dir)
		}
		return fmt.Errorf("open decision index: %w", err)
	}
	l.idx = idx
	if !db.opts.InMemory {
		l.idxDir = resolveDir(dir)
	}
	if err := l.migrate(); err != nil {
		l.idx.Close()
		return fmt.Errorf("move the decision index out of the store: %w", err)
	}
	l.q = make(chan queuedDecision, db.opts.DecisionQueue)
	l.wait = db.opts.DecisionWait
	l.flushReq = make(chan chan struct{})
	l.stopReq = make(chan struct{})
	l.done = make(chan struct{})
	l.pending = make(map[string][]byte)
	go l.run()
	return nil
}

// stop writes what is queued, stops the writer and closes the index.
func (l *decisionLog) stop() {
	close(l.stopReq)
	<-l.done
	if err := l.idx.Close(); err != nil {
		l.db.log.Error("badgerstore: close decision index", "err", err)
	}
	l.segs.close()
	if l.tempDir {
		os.RemoveAll(l.segs.dir)
	}
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
	err := l.store(batch)
	if err != nil {
		l.dropped.Add(uint64(len(batch)))
		l.db.log.Error("badgerstore: write decision log", "err", err, "decisions", len(batch))
	}
	l.mu.Lock()
	for _, d := range batch {
		delete(l.pending, d.id)
	}
	l.mu.Unlock()
}

// store appends batch to the segments, then indexes it.
func (l *decisionLog) store(batch []queuedDecision) error {
	now := time.Now()
	ttl := l.db.opts.DecisionTTL
	if now.Sub(l.expired) > time.Hour {
		// A segment holds an hour; its last entry expires an hour after its first.
		if err := l.segs.expire(now.Add(-ttl - time.Hour)); err != nil {
			l.db.log.Warn("badgerstore: expire decision segments", "err", err)
		}
		l.expired = now
	}
	vals := make([][]byte, len(batch))
	for i, d := range batch {
		vals[i] = d.val
	}
	locs, err := l.segs.append(now, vals)
	if err != nil {
		return err
	}
	wb := l.idx.NewWriteBatch()
	for i, d := range batch {
		if err := wb.SetEntry(badger.NewEntry(key(pDecision, d.id), locs[i].encode()).WithTTL(ttl)); err != nil {
			wb.Cancel()
			return err
		}
		if d.user != "" {
			if err := wb.SetEntry(badger.NewEntry(key(pDecisionUser, string(d.user), d.id), nil).WithTTL(ttl)); err != nil {
				wb.Cancel()
				return err
			}
		}
	}
	return wb.Flush()
}

// indexOptions are the Badger options of the decision index. It is a
// database of its own, apart from the store, because it takes two writes
// per decision, two decisions per request: in the store's LSM tree they
// filled a memtable every few seconds, every write batch waited for an
// fsync that only the store's own writes need (the segments are not synced
// either), and the store's reads walked the level-0 tables they left
// behind. Moving it out made consent checks over HTTP about 1.4× as fast,
// and event ingestion 1.25× in-process (BENCHMARKS.md). Memtables of 8 MB, as the
// store's: with 4 MB, flushes every second or two cost checks most of that
// gain, and 16 MB did no better. Caches are small: it is written far more
// than read.
func indexOptions(dir string, inMemory bool, log *slog.Logger) badger.Options {
	o := badger.DefaultOptions(dir).
		WithSyncWrites(false).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithBaseTableSize(1 << 20).
		WithBlockCacheSize(4 << 20).
		WithIndexCacheSize(2 << 20).
		WithNumCompactors(2).
		WithValueThreshold(1 << 10). // values are locations, a few bytes
		WithValueLogFileSize(16 << 20).
		WithLogger(newBadgerLogger(log))
	o.TableSizeMultiplier = 1
	if inMemory {
		o = o.WithDir("").WithValueDir("").WithInMemory(true)
	}
	return o
}

// migrate moves index entries that an older heed kept in the store (d/ and
// du/ keys) into the index, with their expiry. It runs at start, before the
// writer; a crash between copying and deleting only copies them again.
func (l *decisionLog) migrate() error {
	for _, prefix := range []string{pDecision, pDecisionUser} {
		for {
			var keys [][]byte
			wb := l.idx.NewWriteBatch()
			err := l.db.kv.View(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
				defer it.Close()
				for it.Rewind(); it.Valid() && len(keys) < purgeChunk; it.Next() {
					item := it.Item()
					v, err := item.ValueCopy(nil)
					if err != nil {
						return err
					}
					e := badger.NewEntry(item.KeyCopy(nil), v)
					e.ExpiresAt = item.ExpiresAt()
					if err := wb.SetEntry(e); err != nil {
						return err
					}
					keys = append(keys, e.Key)
				}
				return nil
			})
			if err == nil {
				err = wb.Flush()
			} else {
				wb.Cancel()
			}
			if err != nil {
				return err
			}
			if len(keys) == 0 {
				break
			}
			if err := l.db.kv.Update(func(txn *badger.Txn) error { return deleteKeys(txn, keys) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// eraseDecision overwrites the logged decision id in its segment and deletes
// its index entry, in txn, a transaction of the index. Overwriting is
// idempotent, so txn may be re-run.
func (l *decisionLog) eraseDecision(txn *badger.Txn, id string) error {
	item, err := txn.Get(key(pDecision, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var loc segLoc
	if err := item.Value(func(v []byte) error {
		var err error
		loc, err = decodeSegLoc(v)
		return err
	}); err != nil {
		return err
	}
	if err := l.segs.erase(loc); err != nil {
		return fmt.Errorf("badgerstore: erase decision %s: %w", id, err)
	}
	return txn.Delete(key(pDecision, id))
}

// updateIndex runs fn in a read-write transaction of the index, retrying
// conflicts (with the writer's batches).
func (l *decisionLog) updateIndex(fn func(txn *badger.Txn) error) error {
	return wrapErr(updateRetrying(l.idx, fn))
}

// indexEmpty reports whether the index has no key under prefix (false if
// it cannot tell).
func (l *decisionLog) indexEmpty(prefix []byte) bool {
	empty := false
	err := l.idx.View(func(txn *badger.Txn) error {
		empty = rangeEmpty(txn, prefix)
		return nil
	})
	return err == nil && empty
}

// flush returns once every decision queued before the call is written.
func (l *decisionLog) flush(ctx context.Context) error {
	return awaitFlush(ctx, l.flushReq, l.done)
}

// LogDecision queues d for the decision log without waiting for disk; if
// the queue is full it waits up to Options.DecisionWait for room. A
// decision without an id, one logged after Close, or one that still finds
// the queue full is dropped and counted in DroppedDecisions.
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
	qd := queuedDecision{id: d.ID, user: d.User, val: val}
	select {
	case l.q <- qd:
		return
	default:
	}
	if l.wait > 0 {
		t := time.NewTimer(l.wait)
		defer t.Stop()
		select {
		case l.q <- qd:
			return
		case <-t.C:
		}
	}
	l.mu.Lock()
	delete(l.pending, d.ID)
	l.mu.Unlock()
	l.dropped.Add(1)
	db.log.Warn("badgerstore: decision log writer is stuck; a decision was dropped", "decision_id", d.ID)
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
	if err := ctx.Err(); err != nil {
		return engine.Decision{}, err
	}
	if err := db.enter(); err != nil {
		return engine.Decision{}, err
	}
	defer db.leave()
	var loc segLoc
	err := db.dec.idx.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key(pDecision, id))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			loc, err = decodeSegLoc(v)
			return err
		})
	})
	if err != nil {
		return engine.Decision{}, fmt.Errorf("decision %s: %w", id, wrapErr(err))
	}
	val, err = db.dec.segs.read(loc)
	if errors.Is(err, errErased) || errors.Is(err, os.ErrNotExist) || errors.Is(err, io.ErrUnexpectedEOF) {
		return engine.Decision{}, fmt.Errorf("decision %s: %w", id, engine.ErrNotFound)
	}
	if err != nil {
		return engine.Decision{}, fmt.Errorf("decision %s: %w", id, err)
	}
	if err := unmarshal(key(pDecision, id), val, &d); err != nil {
		return engine.Decision{}, err
	}
	return d, nil
}

// awaitFlush asks a log writer, through req, to write what is queued and
// waits for it; a writer that has stopped (done closed) wrote everything.
func awaitFlush(ctx context.Context, req chan<- chan struct{}, done <-chan struct{}) error {
	ack := make(chan struct{})
	select {
	case req <- ack:
	case <-done:
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

// RecentDecisions returns up to limit logged decisions, newest first:
// the queue is written out first, then the newest hourly segments are read
// backwards. Erased decisions are left out. It reads at most the last
// recentTail bytes of each segment, which holds thousands of decisions.
func (db *DB) RecentDecisions(ctx context.Context, limit int) ([]engine.Decision, error) {
	if err := db.dec.flush(ctx); err != nil {
		return nil, err
	}
	names, err := os.ReadDir(db.dec.segs.dir)
	if err != nil {
		return nil, fmt.Errorf("recent decisions: %w", err)
	}
	var files []string
	for _, e := range names {
		if strings.HasSuffix(e.Name(), ".ndjson") {
			files = append(files, e.Name())
		}
	}
	slices.Sort(files) // hour numbers of equal width: newest last
	var out []engine.Decision
	for i := len(files) - 1; i >= 0 && len(out) < limit; i-- {
		lines, err := tail(filepath.Join(db.dec.segs.dir, files[i]), recentTail)
		if err != nil {
			return nil, fmt.Errorf("recent decisions: %w", err)
		}
		for j := len(lines) - 1; j >= 0 && len(out) < limit; j-- {
			if len(lines[j]) == 0 || lines[j][0] != '{' { // erased, or cut by the tail
				continue
			}
			var d engine.Decision
			if json.Unmarshal(lines[j], &d) == nil {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// recentTail bounds what RecentDecisions reads of one segment.
const recentTail = 1 << 20

// tail returns the complete lines of the last n bytes of the file.
func tail(path string, n int64) ([][]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) { // expired meanwhile
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(fi.Size()-n, 0)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if off > 0 { // the first line is cut: drop it
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return bytes.Split(bytes.TrimRight(b, "\n"), []byte{'\n'}), nil
}
