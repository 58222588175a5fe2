// Package recommend is heed's recommender: implicit-feedback weighted ALS
// (Hu, Koren and Volinsky) trained with gonum, item-to-item neighbours from
// customer and basket co-occurrence, popularity (global and per region),
// repeat-purchase rates, and a live catalog for content matching, new arrivals
// and the serving filters.
//
// The package knows nothing of HTTP, storage or consent: callers pass only the
// events the policy allows, both to Train and in engine.RecRequest.History.
// A shopper's taste is folded in at request time from History alone (one k×k
// solve), so a withdrawn signal changes the very next response; the Model
// keeps no user factors at all, only item-side statistics and the set of
// users whose events it was trained on (TrainedOn).
//
// A Model is immutable and safe for concurrent use. Live holds the current
// Model behind an atomic pointer together with the Catalog and satisfies
// engine.Recommender. gonum types never appear in the exported API.
package recommend
