package policies

import (
	"sync"

	"heed/engine"
)

// A memo caches the verdicts of one entrypoint of one snapshot, so it dies
// with the snapshot when Replace swaps in another. Policies are pure
// functions of their input (capabilities leaves out every
// non-deterministic built-in), so a verdict can be reused for an equal key.
// The size is bounded, since keys come from callers: a full memo stops
// caching.
type memo[K comparable] struct {
	mu sync.RWMutex
	m  map[K]engine.Verdict // guarded by mu
}

const maxMemo = 4096

func (m *memo[K]) get(k K) (engine.Verdict, bool) {
	m.mu.RLock()
	v, ok := m.m[k]
	m.mu.RUnlock()
	return v, ok
}

func (m *memo[K]) put(k K, v engine.Verdict) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[K]engine.Verdict)
	}
	if len(m.m) < maxMemo {
		m.m[k] = v
	}
}

// An authzKey holds everything data.heed.authz.decision may depend on: the
// role, the action and how subject and owner relate, not the user ids
// (authz.rego says so to its editors).
type authzKey struct {
	role                 engine.Role
	action               string
	own, noOwner, noSubj bool
}

// maxWriteMemo is the largest batch whose write verdict is memoized; larger
// batches (imports) are evaluated each time.
const maxWriteMemo = 4

// A writeKey holds everything data.heed.consent.write_decision reads of a
// batch of at most maxWriteMemo records (see its input in consent.rego).
type writeKey struct {
	role    engine.Role
	subject engine.Subject
	n       int
	records [maxWriteMemo]writeRecordKey
}

type writeRecordKey struct {
	purpose          engine.Purpose
	status           engine.Status
	actor            string
	guardianEvidence bool
}

// newWriteKey returns w's key, or false if w is too large to memoize.
func newWriteKey(w engine.ConsentWrite) (writeKey, bool) {
	if len(w.Records) > maxWriteMemo {
		return writeKey{}, false
	}
	k := writeKey{role: w.Role, subject: w.Subject, n: len(w.Records)}
	for i, r := range w.Records {
		k.records[i] = writeRecordKey{r.Purpose, r.Status, r.Actor, r.GuardianEvidence()}
	}
	return k, true
}
