package badgerstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"heed/engine"
)

// SchemaVersion is the key layout this package reads and writes (doc.go).
const SchemaVersion = 1

// Options configure Open. Sizes are bytes; a zero field takes the default
// named in its comment.
//
// The defaults are sized for the whole process to stay within 256 MB of
// resident memory with 1M users and 10M consent records loaded, leaving room
// for OPA and the recommender; load_test.go measures it. Badger's defaults
// (a 256 MB block cache, five 64 MB memtables, tables that double in size
// per level) are made for machines with gigabytes to spare.
type Options struct {
	// Dir is the database directory; required unless InMemory.
	Dir string
	// InMemory keeps everything in memory, for tests: nothing survives Close.
	InMemory bool
	// DecisionTTL is how long logged decisions are kept; zero: 30 days.
	DecisionTTL time.Duration
	// DecisionQueue bounds the decisions waiting for the log writer; when it
	// is full, LogDecision waits up to DecisionWait for room, then drops and
	// counts. Zero: 4096 and 2 s.
	DecisionQueue int
	DecisionWait  time.Duration

	// MemTableSize is the size of one memtable; zero: 8 MB (Badger: 64 MB).
	// It bounds more than the memtables: every L0 table is built in memory
	// from a whole memtable, and Badger pools up to 8 table builders whose
	// buffers keep the size of the largest table they built while writes
	// continue. With 16 MB memtables a sustained load held 400 MB of heap;
	// with 8 MB, 300 MB, released once writes pause.
	MemTableSize int64
	// NumMemtables is how many full memtables may wait for a flush; zero: 2
	// (Badger: 5). Each costs about 1.3 × MemTableSize while it lives.
	NumMemtables int
	// BlockCacheSize bounds the cache of decompressed table blocks; zero:
	// 16 MB (Badger: 256 MB).
	BlockCacheSize int64
	// IndexCacheSize bounds the cache of table indexes; zero: 8 MB (Badger:
	// unbounded). Without encryption Badger reads indexes and bloom filters
	// straight from the memory-mapped tables and does not use this cache; the
	// bound is there so that turning encryption on cannot grow the heap with
	// the data set.
	IndexCacheSize int64
	// GCInterval is how often the value log is garbage collected; zero: 5 minutes.
	GCInterval time.Duration
	// TrimInterval is how often the pages of memory-mapped tables are
	// released from the process's resident set (Linux; see trim_linux.go);
	// zero: 10 seconds; negative: never.
	TrimInterval time.Duration
}

func (o Options) withDefaults() Options {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MemTableSize, 8<<20)
	def(&o.BlockCacheSize, 16<<20)
	def(&o.IndexCacheSize, 8<<20)
	if o.NumMemtables <= 0 {
		o.NumMemtables = 2
	}
	if o.DecisionTTL <= 0 {
		o.DecisionTTL = 30 * 24 * time.Hour
	}
	if o.DecisionWait <= 0 {
		o.DecisionWait = 2 * time.Second
	}
	if o.DecisionQueue <= 0 {
		o.DecisionQueue = 4096
	}
	if o.GCInterval <= 0 {
		o.GCInterval = 5 * time.Minute
	}
	if o.TrimInterval == 0 {
		o.TrimInterval = 10 * time.Second
	}
	return o
}

// badgerOptions turns o into Badger's options. Every setting that differs
// from badger.DefaultOptions says why.
func (o Options) badgerOptions(log *slog.Logger) badger.Options {
	bo := badger.DefaultOptions(o.Dir).
		// Every acknowledged write must survive a crash (DESIGN invariant 7).
		// Badger hands concurrent commits to one writer goroutine, so
		// concurrent writers share it instead of each waiting for a turn.
		WithSyncWrites(true).
		// Memory: see Options.MemTableSize and NumMemtables.
		WithMemTableSize(o.MemTableSize).
		WithNumMemtables(o.NumMemtables).
		// Memory: compaction builds each output table in memory, up to
		// 8 + splits tables in flight per compaction. Tables of 1 MB at every
		// level (Badger: 2 MB, doubling per level) keep that small; 10M
		// records make about 500 of them.
		WithBaseTableSize(1 << 20).
		// Memory: Badger's default block cache alone is 256 MB. Blocks are
		// Snappy-compressed in the tables (a third of the size uncompressed
		// tables take, which the page cache also holds), so a small cache of
		// decompressed blocks for the hot users suffices.
		WithBlockCacheSize(o.BlockCacheSize).
		WithIndexCacheSize(o.IndexCacheSize).
		// Memory and CPU: two compactors (the minimum Badger allows), one
		// per core of the 2-core target machine.
		WithNumCompactors(2).
		// Values up to 1 KB (consent records, profiles, preferences, activity
		// entries, decision-index entries: all well under it) stay in the LSM
		// tree, so reads take no second lookup in the value log. The decision
		// log itself, two entries per request, is not in Badger at all
		// (segments.go).
		WithValueThreshold(1 << 10).
		// Value log files of 64 MB instead of 1 GB: the value log holds only
		// the rare large value (big evidence, policy modules), and GC
		// reclaims it file by file, so smaller files free space sooner.
		WithValueLogFileSize(64 << 20).
		// Keep Badger's operational logs in our logger; Info is demoted to
		// Debug because Badger logs every flush and compaction at Info.
		WithLogger(newBadgerLogger(log))
	if o.InMemory {
		// In memory, Badger rejects values above the threshold instead of
		// putting them in a value log; keep its default (1 MB).
		bo = bo.WithDir("").WithValueDir("").WithInMemory(true).
			WithValueThreshold(badger.DefaultOptions("").ValueThreshold)
	}
	bo.TableSizeMultiplier = 1 // with BaseTableSize, above
	// Snappy is Badger's default; stated here because the sizes above
	// assume compressed tables.
	bo.Compression = options.Snappy
	return bo
}

// A DB is heed's store on Badger. It is safe for concurrent use. Close it
// when done.
type DB struct {
	kv   *badger.DB
	log  *slog.Logger
	opts Options
	seq  seqGen

	// mu is held shared by every method using kv and exclusively by Close,
	// so Close waits for calls in flight and later calls fail cleanly.
	mu     sync.RWMutex
	closed atomic.Bool

	noticeMu    sync.Mutex
	noticeCache []engine.Notice // guarded by noticeMu; nil: not loaded
	noticeGen   uint64          // guarded by noticeMu; bumped by PutNotice

	items  itemCache   // decoded catalog items, for event validation
	deltas deltaCounts // interest deltas per user, for AppendEvents
	tps    seenTouchpoints

	dec   decisionLog
	act   activityLog
	group *committer // group commit of update's transactions

	// userLocks serialize read-modify-write transactions on one user's
	// keys (ledger tail, profile, preferences, interests) within the
	// process, which alone opens the database (Badger locks the directory).
	// Without them, many concurrent updates of one user conflict and retry;
	// with them, conflicts only come from merges and erasures.
	userLocks [256]sync.Mutex
	instance  string // set by Open
	lockSeed  maphash.Seed

	tableDir string // Dir, absolute with symlinks resolved, for trimTables

	stopMaint chan struct{} // closed by Close to stop maintain
	maintDone chan struct{} // closed when maintain returns
}

var _ engine.Store = (*DB)(nil)

// errClosed is returned by every method after Close.
var errClosed = fmt.Errorf("badgerstore: database is closed: %w", engine.ErrUnavailable)

// Open opens (or creates) the database described by opts, checks its schema
// version and finishes any user purge a crash interrupted. It starts two
// goroutines, the decision-log writer and maintenance (value-log GC, table
// trimming); Close stops them. Returns ErrInvalid without Dir (unless
// InMemory), and an error for a database of another schema version.
func Open(ctx context.Context, opts Options, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Dir == "" && !opts.InMemory {
		return nil, fmt.Errorf("badgerstore: open: Options.Dir is required unless InMemory: %w", engine.ErrInvalid)
	}
	opts = opts.withDefaults()
	kv, err := badger.Open(opts.badgerOptions(log))
	if err != nil {
		return nil, fmt.Errorf("badgerstore: open %s: %w", opts.Dir, err)
	}
	db := &DB{kv: kv, log: log, opts: opts, lockSeed: maphash.MakeSeed(),
		stopMaint: make(chan struct{}), maintDone: make(chan struct{})}
	db.group = newCommitter(kv, db.updateAlone)
	if !opts.InMemory {
		db.tableDir = resolveDir(opts.Dir)
	}
	if err := db.checkSchema(); err != nil {
		db.group.stop()
		kv.Close()
		return nil, err
	}
	if err := db.loadInstance(); err != nil {
		db.group.stop()
		kv.Close()
		return nil, err
	}
	// The decision log first: purges erase decisions from its index.
	if err := db.dec.start(db); err != nil {
		db.group.stop()
		kv.Close()
		return nil, fmt.Errorf("badgerstore: decision log: %w", err)
	}
	if err := db.resumePurges(ctx); err != nil {
		db.dec.stop()
		db.group.stop()
		kv.Close()
		return nil, err
	}
	db.act.start(db)
	go db.maintain()
	return db, nil
}

// checkSchema writes the schema version into an empty database and refuses
// a database with another version, or with data but no version.
func (db *DB) checkSchema() error {
	return db.kv.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(schemaKey)
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
			it := txn.NewIterator(badger.IteratorOptions{})
			it.Rewind()
			empty := !it.Valid()
			it.Close()
			if !empty {
				return errors.New("badgerstore: database has data but no schema version; not a heed database?")
			}
			return txn.Set(schemaKey, []byte(strconv.Itoa(SchemaVersion)))
		case err != nil:
			return fmt.Errorf("badgerstore: read schema version: %w", err)
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("badgerstore: read schema version: %w", err)
		}
		if string(v) != strconv.Itoa(SchemaVersion) {
			return fmt.Errorf("badgerstore: unsupported schema version %q (this build reads %d)", v, SchemaVersion)
		}
		return nil
	})
}

// loadInstance reads the database's instance id, choosing one at first.
func (db *DB) loadInstance() error {
	return db.kv.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(instanceKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			db.instance = engine.NewID("")[12:] // the random part
			return txn.Set(instanceKey, []byte(db.instance))
		}
		if err != nil {
			return fmt.Errorf("badgerstore: read instance id: %w", err)
		}
		v, err := item.ValueCopy(nil)
		db.instance = string(v)
		return err
	})
}

// Instance returns the database's id: random, chosen when the database was
// created. Processes that share a Redis tell their queues apart by it.
func (db *DB) Instance() string { return db.instance }

// Close stops the maintenance goroutine, writes the queued decisions and
// closes the database, in that order. Calls in flight finish first; later
// calls fail with engine.ErrUnavailable. Close is idempotent.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	close(db.stopMaint)
	<-db.maintDone
	db.act.stop()
	db.dec.stop()
	db.group.stop()
	if err := db.kv.Close(); err != nil {
		return fmt.Errorf("badgerstore: close: %w", err)
	}
	return nil
}

// Ping reports whether the database can be read, for /readyz.
func (db *DB) Ping(ctx context.Context) error {
	return db.view(ctx, func(txn *badger.Txn) error {
		_, err := txn.Get(schemaKey)
		return err
	})
}

// lockUser locks id's stripe of userLocks and returns its unlock.
func (db *DB) lockUser(id engine.UserID) (unlock func()) {
	m := &db.userLocks[maphash.String(db.lockSeed, string(id))%uint64(len(db.userLocks))]
	m.Lock()
	return m.Unlock
}

// enter takes the shared lock for one call; leave releases it.
func (db *DB) enter() error {
	db.mu.RLock()
	if db.closed.Load() {
		db.mu.RUnlock()
		return errClosed
	}
	return nil
}

func (db *DB) leave() { db.mu.RUnlock() }

// view runs fn in a read-only transaction.
func (db *DB) view(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	return wrapErr(db.kv.View(fn))
}

// maxAttempts bounds how often update runs a transaction that conflicts.
const maxAttempts = 20

// update runs fn in a read-write transaction and commits it, on disk when
// it returns nil. Concurrent updates share a transaction and its fsync
// (see committer). A transaction that conflicts with a concurrent commit is
// run again, with jittered backoff, up to maxAttempts times; fn must
// therefore derive everything it writes from what it reads in txn.
func (db *DB) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	return wrapErr(db.group.do(fn))
}

// updateAlone runs fn in a transaction of its own, retrying conflicts.
func (db *DB) updateAlone(fn func(txn *badger.Txn) error) error { return updateRetrying(db.kv, fn) }

// updateRetrying runs fn in a read-write transaction of kv, retrying
// conflicts.
func updateRetrying(kv *badger.DB, fn func(txn *badger.Txn) error) error {
	backoff := 50 * time.Microsecond
	for attempt := 1; ; attempt++ {
		err := kv.Update(fn)
		if !errors.Is(err, badger.ErrConflict) || attempt == maxAttempts {
			return err
		}
		time.Sleep(backoff/2 + rand.N(backoff))
		backoff = min(2*backoff, 5*time.Millisecond)
	}
}

// wrapErr turns Badger's error kinds into engine's at the package boundary.
func wrapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return engine.ErrNotFound
	case errors.Is(err, badger.ErrConflict):
		return fmt.Errorf("badgerstore: transaction conflict, retries exhausted: %w", engine.ErrConflict)
	case errors.Is(err, badger.ErrDBClosed):
		return errClosed
	case errors.Is(err, badger.ErrTxnTooBig):
		return fmt.Errorf("badgerstore: change too large for one transaction: %w", err)
	}
	return err
}

// maintain runs until Close: value-log GC every GCInterval and, on disk,
// table trimming every TrimInterval.
func (db *DB) maintain() {
	defer close(db.maintDone)
	if db.opts.InMemory {
		<-db.stopMaint
		return
	}
	gc := time.NewTicker(db.opts.GCInterval)
	defer gc.Stop()
	var trim <-chan time.Time
	if db.opts.TrimInterval > 0 {
		t := time.NewTicker(db.opts.TrimInterval)
		defer t.Stop()
		trim = t.C
	}
	for {
		select {
		case <-db.stopMaint:
			return
		case <-trim:
			err1 := trimTables(db.kv, db.tableDir)
			err2 := trimTables(db.dec.idx, db.dec.idxDir)
			if err := cmp.Or(err1, err2); err != nil {
				db.log.Debug("badgerstore: trim mapped tables", "err", err)
			}
		case <-gc.C:
			db.collectValueLog()
		}
	}
}

// collectValueLog rewrites value-log files that are at least half garbage,
// one per run of RunValueLogGC, stopping promptly on Close.
func (db *DB) collectValueLog() {
	for range 16 {
		err := db.kv.RunValueLogGC(0.5)
		if err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				db.log.Warn("badgerstore: value log GC", "err", err)
			}
			return
		}
		select {
		case <-db.stopMaint:
			return
		default:
		}
	}
}

// badgerLogger sends Badger's log lines to slog. Badger formats Debugf in
// its write path, so the levels are decided once, not per line.
type badgerLogger struct {
	log   *slog.Logger
	debug bool
}

func newBadgerLogger(log *slog.Logger) badgerLogger {
	return badgerLogger{log: log, debug: log.Enabled(context.Background(), slog.LevelDebug)}
}

func (l badgerLogger) msg(format string, args []any) string {
	return "badger: " + strings.TrimSpace(fmt.Sprintf(format, args...))
}

func (l badgerLogger) Errorf(format string, args ...any) { l.log.Error(l.msg(format, args)) }

func (l badgerLogger) Warningf(format string, args ...any) { l.log.Warn(l.msg(format, args)) }

func (l badgerLogger) Infof(format string, args ...any) {
	if l.debug {
		l.log.Debug(l.msg(format, args))
	}
}

func (l badgerLogger) Debugf(format string, args ...any) {
	if l.debug {
		l.log.Debug(l.msg(format, args))
	}
}
