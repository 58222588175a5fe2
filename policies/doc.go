// Package policies holds heed's Rego policies and the code that compiles and
// evaluates them with OPA; *Set satisfies engine.Gate.
//
// The modules (authz.rego, consent.rego, collect.rego, delivery.rego and
// their *_test.rego tests) are embedded in the binary; Options.Dir loads
// them from a directory instead, and Options.Overrides lays modules stored
// at run time over either. A module's name is its file name without ".rego".
//
// # Snapshots
//
// Every policy set is compiled once into an immutable snapshot that holds
// one prepared query per entrypoint:
//
//	data.heed.authz.decision         Authorize
//	data.heed.consent.decision       Consent
//	data.heed.consent.decisions      ConsentBatch (optional)
//	data.heed.consent.write_decision ConsentWrite
//	data.heed.collect.decision       Collect
//	data.heed.delivery.decision      Delivery
//	data.heed.delivery.marketing_cap MarketingCap (optional; read once)
//
// Each entrypoint is an object, so one evaluation answers everything a
// caller needs (allow, reasons, status, record id); decisions is an array
// of such objects, one per question. A set without decisions (an override
// of consent.rego older than it) is asked one question at a time; a set
// whose decisions and decision disagree on sample questions is refused. A
// set without package heed.delivery (a policy directory older than it)
// loads, but its Delivery fails closed, an error for every message; a set
// with the package must define its decision. The snapshot sits behind an
// atomic pointer: evaluations never lock, and Replace swaps in a new
// snapshot only after the whole new set compiled, still defines every
// entrypoint with answers of the right shape, and passed all of its Rego
// tests. Evaluations already running finish on the old snapshot.
//
// Policies are compiled without OPA's non-deterministic built-ins
// (http.send, time.now_ns, rand.intn...): a decision is a function of its
// input alone, which keeps a replaced module off the network and lets
// Authorize and Collect memoize verdicts per snapshot.
//
// # Cost of a decision
//
// Consent runs on every recommendation and send, so its cost is measured
// (bench_test.go) and the code is shaped by it:
//
//   - Inputs are ast values built straight from engine types (times as Unix
//     nanoseconds), with only the fields the rules read; this skips OPA's
//     JSON round trip of Go values. Shared terms stand for keys and
//     vocabulary, and the terms of consent records, question scopes and
//     notice rules are cached, bounded: the ledger is append-only, so the
//     same records are asked about again and again. See input.go.
//   - Each evaluation gets a pooled virtual-document cache (evalcache.go)
//     instead of OPA's, which allocates a trie of maps per evaluation; no
//     base-document cache and one shared read transaction, since the store
//     is empty; a shared topdown.Cancel instead of a goroutine per
//     evaluation watching the context; no-op metrics; and the result read
//     as ast, not converted to Go values.
//   - consent.rego avoids rules, function calls and composite values built
//     from variables on its hot path, each of which costs the evaluator
//     allocations.
//   - Callers with several questions at hand ask them together
//     (ConsentBatch): one evaluation answers up to maxBatchQuestions of
//     them, which pays OPA's fixed cost per evaluation once, about half of
//     a single decision's allocations.
//
// Even so, OPA's evaluator costs about two hundred times engine.Fold, the
// hand-written reference; the equivalence test holds the two together.
package policies
