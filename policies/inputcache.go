package policies

import (
	"slices"
	"sync"
	"unsafe"

	"github.com/open-policy-agent/opa/v1/ast"

	"heed/engine"
)

// recordFacts are the fields of a consent record its input term holds: a
// cached term serves a record only if all of them are equal.
type recordFacts struct {
	scope                     engine.Scope
	id, status, notice, actor string
	recordedAt, expiresAt     int64
	expires                   bool
}

func factsOf(r engine.ConsentRecord) recordFacts {
	return recordFacts{scope: r.Scope(), id: r.ID, status: string(r.Status), notice: r.NoticeVersion,
		actor: r.Actor, recordedAt: nanos(r.RecordedAt), expiresAt: nanos(r.ExpiresAt), expires: !r.ExpiresAt.IsZero()}
}

// A recordCache keeps the input terms of consent records by record id. The
// ledger is append-only, so a user's records are asked about again and
// again, unchanged. When the current generation is full it becomes the old
// one and the previous old one is dropped.
type recordCache struct {
	mu       sync.RWMutex
	cur, old map[string]recordTerm // guarded by mu
}

type recordTerm struct {
	facts recordFacts
	term  *ast.Term
}

// lookup sets terms[i] to the cached term of records[i], or leaves it nil.
func (c *recordCache) lookup(records []engine.ConsentRecord, terms []*ast.Term) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, r := range records {
		e, ok := c.cur[r.ID]
		if !ok {
			e, ok = c.old[r.ID]
		}
		if ok && e.facts == factsOf(r) {
			terms[i] = e.term
		}
	}
}

// store caches the terms of records[i] for i in built.
func (c *recordCache) store(records []engine.ConsentRecord, terms []*ast.Term, built []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, i := range built {
		if len(c.cur) >= maxRecordTerms {
			c.old, c.cur = c.cur, make(map[string]recordTerm, len(c.cur))
		}
		c.cur[records[i].ID] = recordTerm{facts: factsOf(records[i]), term: terms[i]}
	}
}

// A termCache keeps terms by a comparable key, up to a bound.
type termCache[K comparable] struct {
	mu sync.RWMutex
	m  map[K]*ast.Term // guarded by mu
}

func (c *termCache[K]) get(k K) *ast.Term {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[k]
}

func (c *termCache[K]) put(k K, t *ast.Term, max int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) < max {
		c.m[k] = t
	}
}

// A noticeCache keeps the terms of the few notice rules in force.
type noticeCache struct {
	mu      sync.RWMutex
	entries []noticeTerm // guarded by mu
}

type noticeTerm struct {
	valid []string
	term  *ast.Term
}

func (c *noticeCache) get(valid []string) *ast.Term {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, e := range c.entries {
		if slices.Equal(e.valid, valid) {
			return e.term
		}
	}
	return nil
}

func (c *noticeCache) put(valid []string, t *ast.Term) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) < maxNoticeTerms {
		c.entries = append(c.entries, noticeTerm{valid: slices.Clone(valid), term: t})
	}
}

// A ledgerCache keeps the array terms of ledgers whose record terms are all
// cached, keyed by those terms: the same records in the same order make the
// same array. Like recordCache, it keeps two generations.
type ledgerCache struct {
	mu       sync.RWMutex
	cur, old map[uint64]*ast.Term // guarded by mu; by ledgerHash
}

// ledgerHash hashes the identities of terms (FNV-1a over their addresses).
func ledgerHash(terms []*ast.Term) uint64 {
	h := uint64(14695981039346656037)
	for _, t := range terms {
		h ^= uint64(uintptr(unsafe.Pointer(t)))
		h *= 1099511628211
	}
	return h
}

// get returns the array of exactly terms, or nil. A nil term (a record not
// cached) never matches.
func (c *ledgerCache) get(terms []*ast.Term) *ast.Term {
	if slices.Contains(terms, nil) {
		return nil
	}
	h := ledgerHash(terms)
	c.mu.RLock()
	t, ok := c.cur[h]
	if !ok {
		t = c.old[h]
	}
	c.mu.RUnlock()
	if t == nil || !sameTerms(t, terms) {
		return nil
	}
	return t
}

func sameTerms(arr *ast.Term, terms []*ast.Term) bool {
	a := arr.Value.(*ast.Array)
	if a.Len() != len(terms) {
		return false
	}
	for i, t := range terms {
		if a.Elem(i) != t {
			return false
		}
	}
	return true
}

func (c *ledgerCache) put(terms []*ast.Term, arr *ast.Term) {
	h := ledgerHash(terms)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cur) >= maxLedgerTerms || c.cur == nil {
		c.old, c.cur = c.cur, make(map[uint64]*ast.Term)
	}
	c.cur[h] = arr
}
