package policies

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestEvalCache(t *testing.T) {
	c := newEvalCache()
	ref := func(s string) ast.Ref { return ast.MustParseRef(s) }
	get := func(r string) string {
		v, undefined := c.Get(ref(r))
		switch {
		case undefined:
			return "undefined"
		case v == nil:
			return "miss"
		}
		return v.String()
	}

	// The caller's key slice is reused after Put: the cache must copy it.
	key := ref("data.a.f[1]")
	c.Put(key, ast.IntNumberTerm(1))
	key[len(key)-1] = ast.IntNumberTerm(2)
	c.Put(ref("data.a.b"), nil)
	if got := get("data.a.f[1]"); got != "1" {
		t.Errorf("Get(f[1]) = %s, want 1", got)
	}
	if got := get("data.a.f[2]"); got != "miss" {
		t.Errorf("Get(f[2]) = %s, want miss", got)
	}
	if got := get("data.a.b"); got != "undefined" {
		t.Errorf("Get(b) = %s, want undefined", got)
	}

	// A frame hides what came before it and forgets what it added.
	c.Push()
	if got := get("data.a.f[1]"); got != "miss" {
		t.Errorf("in a new frame Get(f[1]) = %s, want miss", got)
	}
	c.Put(ref("data.a.f[1]"), ast.IntNumberTerm(10))
	if got := get("data.a.f[1]"); got != "10" {
		t.Errorf("in the frame Get(f[1]) = %s, want 10", got)
	}
	if keys := c.Keys(); len(keys) != 1 || !keys[0].Equal(ref("data.a.f[1]")) {
		t.Errorf("Keys() = %v", keys)
	}
	c.Pop()
	if got := get("data.a.f[1]"); got != "1" {
		t.Errorf("after Pop Get(f[1]) = %s, want 1", got)
	}

	// Entries with colliding hashes stay apart.
	for i := range 100 {
		c.Put(ast.Ref{ast.DefaultRootDocument, ast.IntNumberTerm(i)}, ast.IntNumberTerm(i))
	}
	for i := range 100 {
		if v, _ := c.Get(ast.Ref{ast.DefaultRootDocument, ast.IntNumberTerm(i)}); v == nil || !v.Equal(ast.IntNumberTerm(i)) {
			t.Fatalf("Get(data[%d]) = %v", i, v)
		}
	}

	c.reset()
	if got := get("data.a.f[1]"); got != "miss" {
		t.Errorf("after reset Get(f[1]) = %s, want miss", got)
	}
}
