package policies

import (
	"context"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"heed/engine"
)

// Query evaluates the document at path against the policy set in force, for
// POST /v1/decisions. path names a rule or package, "heed/authz/allow" or
// "data.heed.authz.allow"; input is any JSON-able value (nil: no input).
// It returns the result as JSON-able Go values, or nil when the document is
// undefined. A malformed path is an *engine.ValidationError; evaluation
// errors and ctx's end are returned as they are.
func (s *Set) Query(ctx context.Context, path string, input any) (any, error) {
	query, err := queryRef(path)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	snap := s.cur.Load()
	opts := []func(*rego.Rego){rego.Compiler(snap.compiler), rego.Store(snap.store),
		rego.ParsedQuery(ast.NewBody(ast.NewExpr(ast.NewTerm(query))))}
	switch in := input.(type) {
	case nil:
	case ast.Value:
		opts = append(opts, rego.ParsedInput(in))
	default:
		opts = append(opts, rego.Input(in))
	}
	rs, err := rego.New(opts...).Eval(ctx)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", query, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	return rs[0].Expressions[0].Value, nil
}

// queryRef turns a path into a data reference: segments separated by "/" or
// ".", an optional leading "data", each segment an identifier.
func queryRef(path string) (ast.Ref, error) {
	p := strings.TrimPrefix(path, "/")
	sep := "."
	if strings.Contains(p, "/") {
		sep = "/"
	}
	segs := strings.Split(p, sep)
	if segs[0] == "data" {
		segs = segs[1:]
	}
	if len(segs) == 0 {
		return nil, engine.Invalid("path", "names no document; want a path such as heed/authz/allow")
	}
	for _, seg := range segs {
		if !identifier(seg) {
			return nil, engine.Invalid("path", "segment %q of %q is not an identifier ([A-Za-z_][A-Za-z0-9_]*)", seg, path)
		}
	}
	ref := ast.Ref{ast.DefaultRootDocument}
	for _, seg := range segs {
		ref = append(ref, ast.StringTerm(seg))
	}
	return ref, nil
}

func identifier(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i, c := range []byte(s) {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
