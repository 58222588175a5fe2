package policies

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"heed/engine"
)

// Authorize decides whether r's caller may perform r.Action on r.Owner's
// data (data.heed.authz.decision). Verdicts are memoized per policy set by
// role, action and how subject and owner relate, which is all the policy
// may depend on (authz.rego says so); the memo dies with the set on
// Replace. It returns ctx's error if ctx is done before an evaluation
// starts, and an error if the policy fails to evaluate.
func (s *Set) Authorize(ctx context.Context, r engine.AccessRequest) (engine.Verdict, error) {
	return s.authorize(ctx, s.cur.Load(), r)
}

func (s *Set) authorize(ctx context.Context, snap *snapshot, r engine.AccessRequest) (engine.Verdict, error) {
	k := authzKey{role: r.Role, action: r.Action,
		own: r.Subject == r.Owner, noOwner: r.Owner == "", noSubj: r.Subject == ""}
	v, ok := snap.authzMemo.get(k)
	if !ok {
		var err error
		if v, err = s.verdict(ctx, snap, &snap.authz, s.in.authz(r)); err != nil {
			return engine.Verdict{}, err
		}
		snap.authzMemo.put(k, v)
	}
	v.Reasons = slices.Clone(v.Reasons) // the memo's copy stays intact
	return v, nil
}

// Consent decides whether q's ledger allows the action now
// (data.heed.consent.decision), with the state in force and the deciding
// record. Reasons holds one reason: engine.ReasonGranted, ReasonNoConsent,
// ReasonDenied, ReasonWithdrawn, ReasonNeedsReconsent or ReasonMinor (or
// "unknown_status" for a record whose status is none of the recordable
// ones). Errors as for Authorize.
func (s *Set) Consent(ctx context.Context, q engine.ConsentQuestion) (engine.Verdict, error) {
	return s.consent(ctx, s.cur.Load(), q)
}

func (s *Set) consent(ctx context.Context, snap *snapshot, q engine.ConsentQuestion) (engine.Verdict, error) {
	in := s.in.consent(q)
	defer s.in.release(in)
	d, err := s.eval(ctx, snap, &snap.consent, in)
	if err != nil {
		return engine.Verdict{}, err
	}
	return d.consentVerdict()
}

// ConsentBatch answers many consent questions, each exactly as Consent
// would, in as few evaluations as it can (data.heed.consent.decisions):
// OPA's fixed cost per evaluation is most of a single decision's, so asking
// together costs a fraction of asking in turn. The verdicts are in the order
// of qs. A policy set that does not define the batch entrypoint (an
// override of consent.rego written before it existed) is asked one question
// at a time. Errors as for Authorize; on an error no verdict is returned.
func (s *Set) ConsentBatch(ctx context.Context, qs []engine.ConsentQuestion) ([]engine.Verdict, error) {
	return s.consentBatch(ctx, s.cur.Load(), qs, maxBatchQuestions)
}

// maxBatchQuestions bounds the questions of one batch evaluation; longer
// batches take several. Beyond a few dozen questions the fixed cost of an
// evaluation is amortized (BenchmarkConsentBatch: about 50 allocations a
// question at 32, 128 or 500, against 96 asked alone), and bounding the
// batch bounds the input and the evaluation cache one evaluation holds.
const maxBatchQuestions = 128

// consentBatch asks qs in evaluations of at most chunk questions.
func (s *Set) consentBatch(ctx context.Context, snap *snapshot, qs []engine.ConsentQuestion, chunk int) ([]engine.Verdict, error) {
	out := make([]engine.Verdict, 0, len(qs))
	if !snap.hasBatch || len(qs) == 1 { // one question costs less alone (BenchmarkConsentBatch)
		for _, q := range qs {
			v, err := s.consent(ctx, snap, q)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	for part := range slices.Chunk(qs, chunk) {
		t, err := s.evalTerm(ctx, snap, &snap.consentBatch, s.in.consentBatch(part))
		if err != nil {
			return nil, err
		}
		arr, ok := t.Value.(*ast.Array)
		if !ok || arr.Len() != len(part) {
			return nil, fmt.Errorf("evaluate policy: the decisions are %s, not an array of %d decisions", ast.ValueName(t.Value), len(part))
		}
		for i := range arr.Len() {
			obj, ok := arr.Elem(i).Value.(ast.Object)
			if !ok {
				return nil, fmt.Errorf("evaluate policy: decision %d is %s, not an object", len(out), ast.ValueName(arr.Elem(i).Value))
			}
			v, err := decision{obj: obj, in: s.in}.consentVerdict()
			if err != nil {
				return nil, fmt.Errorf("decision %d: %w", len(out), err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// consentVerdict reads a consent decision: allow, status, reason and
// record_id.
func (d decision) consentVerdict() (engine.Verdict, error) {
	allow, err1 := d.boolean("allow")
	status, err2 := d.str("status")
	reason, err3 := d.str("reason")
	id, err4 := d.str("record_id")
	if err := cmp.Or(err1, err2, err3, err4); err != nil {
		return engine.Verdict{}, err
	}
	return engine.Verdict{Allow: allow, Status: engine.Status(status), Reasons: []string{reason}, RecordID: id}, nil
}

// ConsentWrite decides whether w's records may be appended to the ledger
// (data.heed.consent.write_decision): a minor's grant must be recorded by
// the guardian, with guardian evidence. Verdicts for batches of up to
// maxWriteMemo records are memoized per policy set, keyed by everything the
// rule reads. Errors as for Authorize.
func (s *Set) ConsentWrite(ctx context.Context, w engine.ConsentWrite) (engine.Verdict, error) {
	snap := s.cur.Load()
	key, memoize := newWriteKey(w)
	if memoize {
		if v, ok := snap.writeMemo.get(key); ok {
			v.Reasons = slices.Clone(v.Reasons)
			return v, nil
		}
	}
	v, err := s.verdict(ctx, snap, &snap.consentWrite, s.in.consentWrite(w))
	if err == nil && memoize {
		snap.writeMemo.put(key, v)
		v.Reasons = slices.Clone(v.Reasons)
	}
	return v, err
}

// Collect decides whether an event may be stored
// (data.heed.collect.decision). Reasons says why it is kept ("contract",
// "signal_consent", "analytics_consent") or dropped. Verdicts are memoized
// per policy set by the whole request, which takes few distinct values, so
// that event imports do not evaluate the policy per event. Errors as for
// Authorize.
func (s *Set) Collect(ctx context.Context, r engine.CollectRequest) (engine.Verdict, error) {
	snap := s.cur.Load()
	v, ok := snap.collectMemo.get(r)
	if !ok {
		var err error
		if v, err = s.verdict(ctx, snap, &snap.collect, s.in.collect(r)); err != nil {
			return engine.Verdict{}, err
		}
		snap.collectMemo.put(r, v)
	}
	v.Reasons = slices.Clone(v.Reasons)
	return v, nil
}

// verdict evaluates an entrypoint that answers {"allow": bool, "reasons":
// set of strings}; reasons come back sorted.
func (s *Set) verdict(ctx context.Context, snap *snapshot, ep *entrypoint, input ast.Value) (engine.Verdict, error) {
	d, err := s.eval(ctx, snap, ep, input)
	if err != nil {
		return engine.Verdict{}, err
	}
	allow, err1 := d.boolean("allow")
	reasons, err2 := d.strs("reasons")
	if err := cmp.Or(err1, err2); err != nil {
		return engine.Verdict{}, err
	}
	return engine.Verdict{Allow: allow, Reasons: reasons}, nil
}

// eval evaluates a prepared entrypoint of snap on input and returns the
// decision object.
func (s *Set) eval(ctx context.Context, snap *snapshot, ep *entrypoint, input ast.Value) (decision, error) {
	t, err := s.evalTerm(ctx, snap, ep, input)
	if err != nil {
		return decision{}, err
	}
	obj, ok := t.Value.(ast.Object)
	if !ok {
		return decision{}, fmt.Errorf("evaluate policy: the decision is %s, not an object", ast.ValueName(t.Value))
	}
	return decision{obj: obj, in: s.in}, nil
}

// asTerm makes OPA hand back results as ast terms, which the Gate methods
// read directly, rather than converting them to Go values first.
func asTerm(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }

// A decision is the object an entrypoint answers.
type decision struct {
	obj ast.Object
	in  *inputs // for the shared key terms
}

func (d decision) get(key string) (ast.Value, error) {
	t := d.obj.Get(d.in.key(key))
	if t == nil {
		return nil, fmt.Errorf("evaluate policy: the decision has no %q", key)
	}
	return t.Value, nil
}

func (d decision) boolean(key string) (bool, error) {
	v, err := d.get(key)
	if err != nil {
		return false, err
	}
	b, ok := v.(ast.Boolean)
	if !ok {
		return false, typeError(key, v, "a boolean")
	}
	return bool(b), nil
}

func (d decision) str(key string) (string, error) {
	v, err := d.get(key)
	if err != nil {
		return "", err
	}
	s, ok := v.(ast.String)
	if !ok {
		return "", typeError(key, v, "a string")
	}
	return string(s), nil
}

// strs reads a set or array of strings.
func (d decision) strs(key string) ([]string, error) {
	v, err := d.get(key)
	if err != nil {
		return nil, err
	}
	var elems []*ast.Term
	switch c := v.(type) {
	case ast.Set:
		elems = c.Slice()
	case *ast.Array:
		for i := range c.Len() {
			elems = append(elems, c.Elem(i))
		}
	default:
		return nil, typeError(key, v, "a set of strings")
	}
	var out []string
	for _, e := range elems {
		s, ok := e.Value.(ast.String)
		if !ok {
			return nil, typeError(key, v, "a set of strings")
		}
		out = append(out, string(s))
	}
	slices.Sort(out)
	return out, nil
}

func typeError(key string, v ast.Value, want string) error {
	return fmt.Errorf("evaluate policy: the decision's %q is %s, not %s", key, ast.ValueName(v), want)
}
