package policies

import (
	"context"
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// An entrypoint is a document the Gate methods evaluate, compiled once per
// snapshot as the query "heed_out = <path>" and evaluated through topdown
// directly. rego.PreparedEvalQuery runs the same query the same way, and
// then builds a result set on every evaluation (an evaluation context, a
// Result with its bindings map, an expression value, the set itself) for a
// value the Gate methods read at once: about five of a consent decision's
// allocations.
type entrypoint struct {
	body ast.Body
	qc   ast.QueryCompiler
}

// outVar is the variable an entrypoint's query binds to the document.
var outVar = ast.Var("heed_out")

// prepareEntrypoint compiles the query of the document at path (a data
// reference, "data.heed.consent.decision").
func prepareEntrypoint(compiler *ast.Compiler, path string) (entrypoint, error) {
	ref, err := ast.ParseRef(path)
	if err != nil {
		return entrypoint{}, err
	}
	qc := compiler.QueryCompiler()
	body, err := qc.Compile(ast.NewBody(ast.Equality.Expr(ast.NewTerm(outVar), ast.NewTerm(ref))))
	if err != nil {
		return entrypoint{}, err
	}
	return entrypoint{body: body, qc: qc}, nil
}

// An evaluation is what one evaluation needs besides the query: its
// virtual-document cache, the input's term and the result. A sync.Pool
// hands them from evaluation to evaluation, so that none is allocated anew.
type evaluation struct {
	cache   *evalCache
	input   ast.Term
	out     *ast.Term
	collect func(topdown.QueryResult) error // sets out
}

func newEvaluation() any {
	e := &evaluation{cache: newEvalCache()}
	e.collect = func(qr topdown.QueryResult) error {
		e.out = qr[outVar]
		return nil
	}
	return e
}

// evalTerm evaluates entrypoint ep of snap on input and returns its value.
//
// The options are those rego.PreparedEvalQuery.Eval would use with the ones
// Set used to pass it: a shared topdown.Cancel (no goroutine per
// evaluation; see Set.cancel), no-op metrics, the pooled virtual cache, no
// base cache, the snapshot's read transaction.
func (s *Set) evalTerm(ctx context.Context, snap *snapshot, ep *entrypoint, input ast.Value) (*ast.Term, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e := s.evals.Get().(*evaluation)
	defer s.release(e)
	e.input.Value = input
	q := topdown.NewQuery(ep.body).
		WithQueryCompiler(ep.qc).
		WithCompiler(snap.compiler).
		WithStore(snap.store).
		WithTransaction(snap.txn).
		WithInput(&e.input).
		WithCancel(s.cancel).
		WithMetrics(s.metrics).
		WithVirtualCache(e.cache).
		WithBaseCache(noBaseCache{}).
		WithRequestMetadata(s.requestMetadata)
	if err := q.Iter(ctx, e.collect); err != nil {
		return nil, fmt.Errorf("evaluate policy: %w", err)
	}
	if e.out == nil {
		return nil, errors.New("evaluate policy: the decision is undefined")
	}
	return e.out, nil
}

// release clears e, dropping its references to terms, and pools it.
func (s *Set) release(e *evaluation) {
	e.cache.reset()
	e.input.Value, e.out = nil, nil
	s.evals.Put(e)
}
