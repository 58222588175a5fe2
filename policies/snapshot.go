package policies

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"heed/engine"
)

// Entrypoints: the documents the Gate methods evaluate. A policy set must
// define each of them.
const (
	authzPath        = "data.heed.authz.decision"
	consentPath      = "data.heed.consent.decision"
	consentWritePath = "data.heed.consent.write_decision"
	collectPath      = "data.heed.collect.decision"

	// consentBatchPath, for ConsentBatch, is optional: a set without it
	// (an override of consent.rego older than it) is asked one question at
	// a time. A set that defines it must agree with consentPath on the
	// smoke test's sample questions.
	consentBatchPath = "data.heed.consent.decisions"

	// deliveryPath, for Delivery, is required of a set that has package
	// heed.delivery, so that a change of delivery.rego cannot drop it; a
	// set without the package (a policy directory older than it) loads,
	// and its Delivery fails closed: every call is an error, never an
	// allow. marketingCapPath, for MarketingCap, is optional: without it
	// the cap is zero.
	deliveryPath     = "data.heed.delivery.decision"
	deliveryPkg      = "data.heed.delivery"
	marketingCapPath = "data.heed.delivery.marketing_cap"
)

// A snapshot is one compiled policy set. It is immutable once built, except
// for the authz memo, which only ever caches what the set would answer.
type snapshot struct {
	revision string
	modules  map[string]string
	tests    int  // Rego tests run and passed
	shipped  bool // the modules that decide are the embedded ones

	compiler *ast.Compiler // the modules other than tests, compiled
	store    storage.Store // empty: policies take everything from input

	// txn is the one read transaction on store every evaluation uses,
	// opened at build and never closed, instead of one per evaluation. That
	// is safe because the store is never written: an inmem read transaction
	// only holds a read lock and reads are free of side effects.
	txn storage.Transaction

	authz, consent, consentWrite, collect entrypoint
	consentBatch                          entrypoint // if hasBatch
	hasBatch                              bool
	delivery                              entrypoint // if hasDelivery
	hasDelivery                           bool
	marketingCap                          engine.MarketingCap // evaluated once, at build

	authzMemo   memo[authzKey]
	collectMemo memo[engine.CollectRequest] // the whole request is the key
	writeMemo   memo[writeKey]              // batches of up to maxWriteMemo records
}

// build compiles modules into a snapshot: parse, compile, check the
// entrypoints, prepare one query per entrypoint, try each on a sample input,
// and run every Rego test. Any failure is a *engine.PolicyError listing all
// that went wrong at the first failing step.
func (s *Set) build(ctx context.Context, modules map[string]string) (*snapshot, error) {
	parsed, errs := parseModules(modules)
	if len(errs) > 0 {
		return nil, &engine.PolicyError{Errors: errs}
	}

	// Test modules take no part in decisions: they are compiled, with the
	// rest, only by the test runner.
	policy := make(map[string]*ast.Module, len(parsed))
	for name, m := range parsed {
		if !strings.HasSuffix(name, "_test") {
			policy[name] = m
		}
	}
	caps := capabilities()
	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1).WithCapabilities(caps)
	if compiler.Compile(policy); compiler.Failed() {
		return nil, &engine.PolicyError{Errors: astErrors(compiler.Errors)}
	}

	snap := &snapshot{revision: revision(modules), modules: modules, shipped: shipped(modules), compiler: compiler,
		store: inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false))}
	txn, err := snap.store.NewTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("open policy store: %w", err)
	}
	snap.txn = txn
	for _, e := range []struct {
		path string
		ep   *entrypoint
	}{
		{authzPath, &snap.authz},
		{consentPath, &snap.consent},
		{consentWritePath, &snap.consentWrite},
		{collectPath, &snap.collect},
	} {
		if len(compiler.GetRulesExact(ast.MustParseRef(e.path))) == 0 {
			errs = append(errs, fmt.Sprintf("entrypoint %s is not defined", e.path))
			continue
		}
		ep, err := prepareEntrypoint(compiler, e.path)
		if err != nil {
			errs = append(errs, fmt.Sprintf("entrypoint %s: %v", e.path, err))
			continue
		}
		*e.ep = ep
	}
	if len(compiler.GetRulesExact(ast.MustParseRef(consentBatchPath))) > 0 {
		ep, err := prepareEntrypoint(compiler, consentBatchPath)
		if err != nil {
			errs = append(errs, fmt.Sprintf("entrypoint %s: %v", consentBatchPath, err))
		}
		snap.consentBatch, snap.hasBatch = ep, err == nil
	}
	switch {
	case len(compiler.GetRulesExact(ast.MustParseRef(deliveryPath))) > 0:
		ep, err := prepareEntrypoint(compiler, deliveryPath)
		if err != nil {
			errs = append(errs, fmt.Sprintf("entrypoint %s: %v", deliveryPath, err))
		}
		snap.delivery, snap.hasDelivery = ep, err == nil
	case len(compiler.GetRulesWithPrefix(ast.MustParseRef(deliveryPkg))) > 0:
		errs = append(errs, fmt.Sprintf("entrypoint %s is not defined", deliveryPath))
	}
	if mc, err := evalMarketingCap(ctx, snap); err != nil {
		errs = append(errs, fmt.Sprintf("%s: %v", marketingCapPath, err))
	} else {
		snap.marketingCap = mc
	}
	if len(errs) > 0 {
		return nil, &engine.PolicyError{Errors: errs}
	}
	if errs := s.smoke(ctx, snap); len(errs) > 0 {
		return nil, &engine.PolicyError{Errors: errs}
	}

	n, errs, err := runTests(ctx, parsed, caps)
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, &engine.PolicyError{Errors: errs}
	}
	snap.tests = n
	return snap, nil
}

// parseModules parses each module as Rego v1, keyed by name, and lists the
// syntax errors.
func parseModules(modules map[string]string) (map[string]*ast.Module, []string) {
	parsed := make(map[string]*ast.Module, len(modules))
	var errs []string
	for _, name := range sortedKeys(modules) {
		m, err := ast.ParseModuleWithOpts(name+".rego", modules[name],
			ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
		if err != nil {
			errs = append(errs, astErrors(err)...)
			continue
		}
		parsed[name] = m
	}
	return parsed, errs
}

// smoke evaluates each entrypoint once on a sample input, so that a set
// whose answers do not have the shape the Gate methods read is refused
// rather than failing every later decision.
func (s *Set) smoke(ctx context.Context, snap *snapshot) []string {
	var errs []string
	check := func(path string, err error) {
		if err != nil {
			errs = append(errs, fmt.Sprintf("entrypoint %s on a sample input: %v", path, err))
		}
	}
	_, err := s.authorize(ctx, snap, engine.AccessRequest{Role: engine.RoleAdmin, Action: "users.read"})
	check(authzPath, err)
	samples := sampleQuestions()
	singles := make([]engine.Verdict, len(samples))
	for i, q := range samples {
		singles[i], err = s.consent(ctx, snap, q)
		check(consentPath, err)
	}
	if snap.hasBatch && len(errs) == 0 {
		batch, err := s.consentBatch(ctx, snap, samples, maxBatchQuestions)
		check(consentBatchPath, err)
		for i := range batch {
			if !slices.Equal(batch[i].Reasons, singles[i].Reasons) || batch[i].Allow != singles[i].Allow ||
				batch[i].Status != singles[i].Status || batch[i].RecordID != singles[i].RecordID {
				check(consentBatchPath, fmt.Errorf("sample %d: decisions answers %+v, decision %+v", i, batch[i], singles[i]))
			}
		}
	}
	if snap.hasDelivery {
		for _, q := range sampleDeliveries() {
			_, err = s.delivery(ctx, snap, q)
			check(deliveryPath, err)
		}
	}
	_, err = s.verdict(ctx, snap, &snap.consentWrite, s.in.consentWrite(engine.ConsentWrite{
		Role: engine.RoleStorefront, Records: []engine.ConsentRecord{{Status: engine.StatusGranted}}}))
	check(consentWritePath, err)
	_, err = s.verdict(ctx, snap, &snap.collect, s.in.collect(engine.CollectRequest{EventType: "purchase"}))
	check(collectPath, err)
	return errs
}

// sampleQuestions are the consent questions smoke asks: one per outcome
// of the shipped policy, so that a set whose decisions (the batch
// entrypoint) drifted from its decision is refused.
func sampleQuestions() []engine.ConsentQuestion {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(id string, st engine.Status, version, actor string) engine.ConsentRecord {
		return engine.ConsentRecord{ID: id, Purpose: engine.PurposeMarketing, Status: st,
			NoticeVersion: version, Actor: actor, RecordedAt: at}
	}
	scope := engine.Scope{Purpose: engine.PurposeMarketing, Channel: engine.ChannelEmail}
	q := func(subj engine.Subject, valid []string, recs ...engine.ConsentRecord) engine.ConsentQuestion {
		return engine.ConsentQuestion{Scope: scope, Subject: subj, Notice: engine.NoticeRule{Valid: valid},
			Records: recs, Now: at.Add(time.Hour)}
	}
	adult, minor := engine.Subject{}, engine.Subject{Minor: true, GuardianConsent: true}
	expired := rec("sample-expired", engine.StatusGranted, "v1", "")
	expired.ExpiresAt = at.Add(time.Minute)
	return []engine.ConsentQuestion{
		q(adult, nil, rec("sample", engine.StatusGranted, "", "")),
		q(adult, nil),
		q(adult, nil, expired),
		q(adult, nil, rec("sample-denied", engine.StatusDenied, "", "")),
		q(adult, nil, rec("sample-withdrawn", engine.StatusWithdrawn, "", "")),
		q(adult, nil, rec("sample-odd", "odd", "", "")),
		q(adult, []string{"v2"}, rec("sample-old", engine.StatusGranted, "v1", "")),
		q(minor, nil, rec("sample-minor", engine.StatusGranted, "", engine.ActorSelf)),
		q(minor, []string{"v1"}, rec("sample-guardian", engine.StatusGranted, "v1", engine.ActorGuardian)),
	}
}

// capabilities are OPA's, less the non-deterministic built-ins (http.send,
// net.lookup_ip_addr, time.now_ns, rand.intn, uuid.rfc4122, opa.runtime...).
// A decision must be a function of its input alone (input.now is the
// clock), which is also what lets Authorize memoize verdicts, and a module
// replaced at run time must not reach the network.
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool { return b.Nondeterministic })
	return caps
}

// runTests runs every Rego test in modules, compiled with caps, and returns
// how many ran and the failures, as "package.test_name: FAIL" or
// "...: ERROR <error>", sorted.
func runTests(ctx context.Context, modules map[string]*ast.Module, caps *ast.Capabilities) (int, []string, error) {
	ch, err := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1).WithCapabilities(caps)).
		SetDefaultRegoVersion(ast.RegoV1).
		SetModules(modules).
		RaiseBuiltinErrors(true).
		CapturePrintOutput(false).
		RunTests(ctx, nil)
	if err != nil {
		var astErrs ast.Errors
		if errors.As(err, &astErrs) {
			return 0, astErrors(astErrs), nil
		}
		return 0, nil, fmt.Errorf("run policy tests: %w", err)
	}
	var n int
	var errs []string
	for r := range ch {
		if r.Skip {
			continue
		}
		n++
		switch {
		case r.Error != nil:
			errs = append(errs, fmt.Sprintf("%s.%s: ERROR %v", r.Package, r.Name, r.Error))
		case r.Fail:
			errs = append(errs, fmt.Sprintf("%s.%s: FAIL", r.Package, r.Name))
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, nil, fmt.Errorf("run policy tests: %w", err)
	}
	slices.Sort(errs)
	return n, errs, nil
}

// astErrors lists err's parts: each compile or parse error with its location.
func astErrors(err error) []string {
	var astErrs ast.Errors
	if !errors.As(err, &astErrs) {
		return []string{err.Error()}
	}
	out := make([]string, len(astErrs))
	for i, e := range astErrs {
		out[i] = e.Error()
	}
	return out
}

// revision returns a short hash of the modules, in name order.
func revision(modules map[string]string) string {
	h := sha256.New()
	for _, name := range sortedKeys(modules) {
		fmt.Fprintf(h, "%s\x00%d\x00%s\x00", name, len(modules[name]), modules[name])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
