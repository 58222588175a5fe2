package policies

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// An evalCache is the virtual-document cache of one evaluation
// (rego.EvalVirtualCache): it remembers the value of each rule and function
// call already evaluated. OPA's own cache builds a trie of hash maps afresh
// for every evaluation, which cost the consent decision about a third of its
// allocations; this one keeps its entries in slices and one map that a
// sync.Pool hands from evaluation to evaluation, cleared but with their
// capacity, so a warm cache allocates nothing.
//
// An evalCache serves one evaluation at a time.
type evalCache struct {
	terms  []*ast.Term   // the keys' terms, back to back: callers reuse their key slices
	ents   []cacheEntry  // in insertion order
	index  map[int]int32 // key hash -> newest entry with that hash
	frames []int32       // len(ents) at each Push: entries below the top mark are hidden
}

type cacheEntry struct {
	start, end int32     // the key, as terms[start:end]
	hash       int       // the key's hash
	next       int32     // the previous entry with the same hash, or -1
	value      *ast.Term // nil: the key is undefined
}

var _ topdown.VirtualCache = (*evalCache)(nil)

func newEvalCache() *evalCache {
	c := &evalCache{index: make(map[int]int32)}
	c.Push()
	return c
}

// reset empties c for the next evaluation, dropping its references to terms.
func (c *evalCache) reset() {
	clear(c.terms)
	clear(c.ents)
	clear(c.index)
	c.terms, c.ents, c.frames = c.terms[:0], c.ents[:0], c.frames[:0]
	c.Push()
}

// Push starts a frame (an evaluation under "with"): what it adds is seen
// only until the matching Pop, and nothing from earlier frames is seen.
func (c *evalCache) Push() { c.frames = append(c.frames, int32(len(c.ents))) }

// Pop forgets the top frame's entries.
func (c *evalCache) Pop() {
	top := c.frames[len(c.frames)-1]
	c.frames = c.frames[:len(c.frames)-1]
	for i := int32(len(c.ents)) - 1; i >= top; i-- {
		e := c.ents[i]
		if e.next < 0 {
			delete(c.index, e.hash)
		} else {
			c.index[e.hash] = e.next
		}
	}
	if top < int32(len(c.ents)) {
		start := c.ents[top].start
		clear(c.terms[start:])
		c.terms = c.terms[:start]
	}
	clear(c.ents[top:])
	c.ents = c.ents[:top]
}

// Get returns the value cached for ref in the top frame; undefined reports a
// ref cached as undefined. (nil, false) means not cached.
func (c *evalCache) Get(ref ast.Ref) (value *ast.Term, undefined bool) {
	top := c.frames[len(c.frames)-1]
	i, ok := c.index[ref.Hash()]
	if !ok {
		return nil, false
	}
	for ; i >= top; i = c.ents[i].next {
		e := c.ents[i]
		if ast.Ref(c.terms[e.start:e.end]).Equal(ref) {
			return e.value, e.value == nil
		}
	}
	return nil, false
}

// Put caches value (nil: undefined) for ref in the top frame.
func (c *evalCache) Put(ref ast.Ref, value *ast.Term) {
	h := ref.Hash()
	next, ok := c.index[h]
	if !ok {
		next = -1
	}
	start := int32(len(c.terms))
	c.terms = append(c.terms, ref...)
	c.index[h] = int32(len(c.ents))
	c.ents = append(c.ents, cacheEntry{start: start, end: int32(len(c.terms)), hash: h, next: next, value: value})
}

// Keys returns the refs cached with a value in the top frame.
func (c *evalCache) Keys() []ast.Ref {
	var keys []ast.Ref
	for _, e := range c.ents[c.frames[len(c.frames)-1]:] {
		if e.value != nil {
			keys = append(keys, ast.Ref(c.terms[e.start:e.end]).Copy())
		}
	}
	return keys
}

// noBaseCache is the base-document cache of every evaluation
// (rego.EvalBaseCache): it caches nothing. Policies take everything from
// input and the store is empty, so there is nothing worth caching, and
// OPA's default cache costs allocations per evaluation.
type noBaseCache struct{}

func (noBaseCache) Get(ast.Ref) ast.Value  { return nil }
func (noBaseCache) Put(ast.Ref, ast.Value) {}
