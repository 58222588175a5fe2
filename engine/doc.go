// Package engine is heed's domain core: users and identities, the consent
// ledger and its folding rule, preferences, interest tags, the usage log,
// policy decisions and data-subject rights.
//
// It imports the standard library only. What it needs from outside — a
// store and a policy gate — it declares as small interfaces (Store, Gate),
// and cmd/heed passes the concrete values (engine/badgerstore, policies).
// Every action goes through Service: decide (Rego) → store → usage log.
package engine
