// Package badgerstore is heed's persistence on an embedded Badger database.
// Open returns a *DB that satisfies engine.Store, plus the methods the change
// dispatcher (outbox), AddInterests and /readyz (Ping)
// need. It defines no interface of its own.
//
// # Durability
//
// The database is opened with SyncWrites, so every method that writes and
// returns nil has its write on disk. Badger queues the commits of concurrent
// transactions to one writer goroutine, so concurrent writers share its
// work. The decision log is the exception: LogDecision only queues, and a
// background writer stores decisions in batches (see decision.go), as JSON
// lines in hourly files under <Dir>/decisions/ (segments.go), indexed in a
// Badger database of their own under <Dir>/decisions/index/ (not synced;
// indexOptions says why it is not this one).
//
// # Memory
//
// Options documents how the defaults keep Badger's heap small (8 MB
// memtables, 1 MB tables, a 16 MB block cache); load_test.go measures a
// load of 1M users and 10M records. Badger memory-maps its tables, so pages
// of table files also count in the resident set; they are page cache, and
// a maintenance goroutine releases them from the process every
// Options.TrimInterval (trim_linux.go).
//
// # Key layout (schema version 1)
//
// Keys are a short type prefix, then their parts. A user id, identity type or
// value is never empty and never holds a NUL byte (engine validation forbids
// control characters), so NUL ends a part and no user's prefix is the prefix
// of another's.
//
//	m/schema                                 schema version, decimal ("1")
//	m/instance                               the database's random id (DB.Instance)
//	u/<user>                                 engine.User as JSON, without Identities
//	s/<user>                                 last ledger sequence of the user (8 bytes)
//	i/<type>\x00<value>                      owner's user id
//	ui/<user>\x00<type>\x00<value>           empty: the user's identities
//	c/<user>\x00<purpose><seq>               one consent record (binary, codec.go)
//	n/<seq>                                  engine.Notice as JSON, publication order
//	nk/<purpose>\x00<version>                empty: the notice exists
//	f/<user>                                 engine.Preferences as JSON
//	t/<user>                                 engine.Interests (binary, interests.go; or JSON)
//	td/<user>\x00<seq>                       interest tags one batch of events added
//	                                         (engine.Interests binary, no deleted list)
//	a/<user>\x00<^at><^seq>                  engine.ActivityEntry as JSON, newest first
//	p/<subject hash>                         engine.ErasureProof as JSON
//	pm/<name>                                policy module text
//	o/<next-at><item id>                     engine.OutboxItem as JSON, due order
//	oi/<item id>                             <next-at> of the item's o/ key (8 bytes)
//	od/<item id>                             dead-lettered engine.OutboxItem as JSON
//	e/<user>                                 pending purge of a removed user (see below)
//	it/<item id>                             engine.Item as JSON (the catalog)
//	ev/<user>\x00<at><seq>                   one event (binary, events.go), oldest first
//	cp/<campaign id>                         a campaign, as the campaigns package encodes it
//	cr/<campaign id>\x00<run id>             one planned run of a campaign (JSON, campaigns)
//	dl/<campaign>\x00<occurrence>\x00<user>   engine.Delivery as JSON: the delivery ledger
//	dlu/<user>\x00<campaign>\x00<occurrence>  when the delivery was sent or claimed (8-byte
//	                                         Unix ns), or empty: the user's deliveries
//	dq/<due><campaign>\x00<occurrence>\x00<user>  empty: a delivery that is not final, at
//	                                         the time it is next due (deliveries.go)
//	rs/<user>                                the user's sends of the last 8 days
//	                                         ([]engine.SentMessage as JSON), for caps
//	fq/<user>                                empty: an erased user whose id the scheduler
//	                                         has yet to take out of the tasks in Redis
//
// <seq> is an 8-byte big-endian sequence from a process-wide generator that
// returns max(now in ns, last+1); a user's records also stay above s/<user>,
// so within a user, key order is append order across restarts and clock
// steps. <purpose> is one byte: 1 personalization, 2 marketing, 3 analytics,
// 4 third_party_sharing. Records of one purpose are therefore one contiguous,
// ordered range (the hot path of /consents/check); reading every purpose
// merges the ranges by <seq>. <next-at> is the item's NextAt in Unix ns as an
// 8-byte big-endian number with the sign bit flipped (0 for the zero time),
// so o/ keys sort by due time. <at> of an event is its OccurredAt encoded
// the same way, so a user's events are one range in time order (a reverse
// scan reads the newest first) and all events, in key order, come user by
// user. <^at> and <^seq> are the bitwise complements of the entry's time key
// and of a sequence, so a forward scan is newest first. Interest weights in
// t/<user> are stored as of each tag's UpdatedAt; they decay with
// engine.InterestHalfLife (engine.Interests.At gives them as of now).
// AppendEvents adds interest tags without reading t/<user>: each batch
// writes one delta td/<user>\x00<seq> per user. Every read adds the deltas
// to t/<user>, in memory (engine.Interests.Add, which skips deleted tags); a batch
// that finds maxInterestDeltas of them folds them into t/<user> and deletes
// them, as do DeleteInterest, AddInterests, Merge and Erase (in their
// bounded transaction). A database without td/ keys (written before they
// existed) reads as before, so the schema version stays 1.
//
// # Removing users
//
// Erase and Merge first remove a user in one transaction that touches only a
// bounded set of keys (profile, identities, preferences, interests and their
// deltas, and for
// Merge the ledger), and record e/<user>. What can grow without bound
// (ledger on erasure, usage log, events, the decision index) is then purged
// or moved in smaller transactions; e/<user> holds the merge survivor, or is empty for
// an erasure. Until e/<user> is gone, that id reads as unknown; PutUser of the
// same id finishes the purge first, and Open resumes any purge a crash
// interrupted.
//
// The decision index, in its own database:
//
//	d/<decision id>                          where the decision is in the segment files
//	                                         (hour, offset, length; 16 bytes), with a TTL
//	du/<user>\x00<decision id>               empty, same TTL: decisions about a user
package badgerstore
