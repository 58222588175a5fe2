package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// HistoryLimit bounds the events a recommendation reads: the shopper's
// newest ones.
const HistoryLimit = 500

// A RecQuery asks for one list for a shopper.
type RecQuery struct {
	Strategy   Strategy
	Item       ItemID     // the context item; required for similar and complementary
	Touchpoint Touchpoint // where the list is shown; scopes the consents asked
	// AvailableIn keeps only items sold in that region (the storefront's
	// delivery region: context, not a personal signal).
	AvailableIn string
	Limit       int
}

// MaxRecLimit bounds RecQuery.Limit.
const MaxRecLimit = 100

// A RecResult is a list and what it was based on.
type RecResult struct {
	User         UserID        `json:"user_id,omitempty"`
	Strategy     Strategy      `json:"strategy"`
	Personalized bool          `json:"personalized"`
	SignalsUsed  []Signal      `json:"signals_used"`
	Items        []Recommended `json:"items"`
	DecisionID   string        `json:"decision_id"`
}

func (q *RecQuery) validate() error {
	var ps problems
	switch {
	case q.Strategy == "":
		q.Strategy = StrategyForYou
	case !q.Strategy.Valid():
		ps.add("strategy", "unknown strategy %q; want one of %v", q.Strategy, Strategies)
	}
	if q.Item != "" {
		if err := q.Item.Validate(); err != nil {
			ps = append(ps, problemsOf(Prefixed(err, "item_"))...)
		}
	} else if q.Strategy == StrategySimilar || q.Strategy == StrategyComplementary {
		ps.add("item_id", "is required for strategy %s", q.Strategy)
	}
	if q.Touchpoint != "" && !q.Touchpoint.Valid() {
		ps.add("touchpoint", "unknown touchpoint %q; want one of %v", q.Touchpoint, Touchpoints)
	}
	if msg := checkText(q.AvailableIn, 64); msg != "" {
		ps.add("region", "%s", msg)
	}
	switch {
	case q.Limit == 0:
		q.Limit = 10
	case q.Limit < 1 || q.Limit > MaxRecLimit:
		ps.add("limit", "must be between 1 and %d", MaxRecLimit)
	}
	return ps.err()
}

// Recommend returns a list for user id, personalized only from the signals
// the consent policy allows for q.Touchpoint at this moment: the events of
// other signals are not read into the request, so a withdrawal counts from
// the next call on. With no signal allowed the list is the non-personalized
// fallback (Personalized false), the same for every such shopper. A
// personalized list is recorded in the user's usage log with the signals
// it used and the consent decision's id.
func (s *Service) Recommend(ctx context.Context, id UserID, q RecQuery) (RecResult, error) {
	if err := q.validate(); err != nil {
		return RecResult{}, err
	}
	if s.opts.Recommender == nil {
		return RecResult{}, fmt.Errorf("%w: no recommender configured", ErrUnavailable)
	}
	// Two reads: the profile and ledger for the decision, then what the
	// allowed signals give. Each Badger read transaction passes a global
	// lock and waits for the commits in flight, so fewer is faster under
	// load (BenchmarkServiceRecommend/parallel).
	u, records, err := s.store.UserConsents(ctx, id, PurposePersonalization)
	if err != nil {
		return RecResult{}, err
	}
	allowed, d, err := s.allowedSignals(ctx, u, records, q.Touchpoint)
	if err != nil {
		return RecResult{}, err
	}
	read := strategySignals(q.Strategy, allowed)
	req := RecRequest{Strategy: q.Strategy, Item: q.Item, AvailableIn: q.AvailableIn, Limit: q.Limit,
		Now: s.now(), Personalized: len(read) > 0}
	res := RecResult{User: id, Strategy: q.Strategy, Personalized: req.Personalized, DecisionID: d.ID, SignalsUsed: []Signal{}}
	if req.Personalized {
		if err := s.personalize(ctx, u, read, &req); err != nil {
			return RecResult{}, err
		}
		res.SignalsUsed = signalsUsed(req)
	}
	res.Items = nonNil(s.opts.Recommender.Recommend(req))
	if req.Personalized {
		e := s.activity(ctx, id, ActionRecommendation, d.ID)
		e.Purpose, e.Signals = PurposePersonalization, res.SignalsUsed
		e.Detail = describeList(res)
		s.store.QueueActivity(e) // the list need not wait for the log's disk write
	}
	return res, nil
}

// ItemList returns a non-personalized list about one item: similar or
// complementary items. Returns ErrNotFound for an item not in the catalog.
func (s *Service) ItemList(ctx context.Context, item ItemID, q RecQuery) (RecResult, error) {
	q.Item = item
	if err := q.validate(); err != nil {
		return RecResult{}, err
	}
	if s.opts.Recommender == nil {
		return RecResult{}, fmt.Errorf("%w: no recommender configured", ErrUnavailable)
	}
	found, err := s.store.Items(ctx, []ItemID{item})
	if err != nil {
		return RecResult{}, err
	}
	if len(found) == 0 {
		return RecResult{}, fmt.Errorf("item %s: %w", item, ErrNotFound)
	}
	req := RecRequest{Strategy: q.Strategy, Item: item, AvailableIn: q.AvailableIn, Limit: q.Limit, Now: s.now()}
	return RecResult{Strategy: q.Strategy, SignalsUsed: []Signal{}, DecisionID: DecisionIDFrom(ctx),
		Items: nonNil(s.opts.Recommender.Recommend(req))}, nil
}

// personalize fills req with what the allowed signals give: the events of
// those signals, the region, the shopper's stated categories, and the tags
// the shopper deleted (never to be used).
func (s *Service) personalize(ctx context.Context, u User, allowed []Signal, req *RecRequest) error {
	d, err := s.store.PersonalData(ctx, u.ID, HistoryLimit, ofSignals(allowed))
	if err != nil {
		return err
	}
	req.History = d.Events
	if slices.Contains(allowed, SignalRegion) {
		req.Region = u.Region
	}
	req.Blocked = d.Deleted
	for _, c := range d.Preferences.Categories {
		if tag := "category:" + c; !slices.Contains(d.Deleted, tag) {
			req.Interests = append(req.Interests, InterestTag{Tag: tag, Weight: 1})
		}
	}
	return nil
}

// strategySignals narrows allowed to the signals strategy st can use, so
// that a list reads, and reports as used, no more than it needs: region
// ranks by the shopper's region and leaves out what they bought, buy_again
// lists what they bought, and similar and complementary are about the
// context item alone (the same list for everyone, as GET
// /v1/items/{id}/similar gives). for_you and new_arrivals may use every
// allowed signal. A strategy left with no signal is not personalized.
func strategySignals(st Strategy, allowed []Signal) []Signal {
	var keep func(Signal) bool
	switch st {
	case StrategyRegion:
		keep = func(sig Signal) bool { return sig == SignalPurchases || sig == SignalRegion }
	case StrategyBuyAgain:
		keep = func(sig Signal) bool { return sig == SignalPurchases }
	case StrategySimilar, StrategyComplementary:
		return nil
	default:
		return allowed
	}
	return slices.DeleteFunc(slices.Clone(allowed), func(sig Signal) bool { return !keep(sig) })
}

// signalsUsed lists, in Signals order, the signals req carries data of.
func signalsUsed(req RecRequest) []Signal {
	used := []Signal{}
	for _, sig := range Signals {
		switch {
		case sig == SignalRegion && req.Region != "":
			used = append(used, sig)
		case slices.ContainsFunc(req.History, func(e Event) bool { return e.Signal() == sig }):
			used = append(used, sig)
		}
	}
	return used
}

func describeList(r RecResult) string {
	d := fmt.Sprintf("%s list of %d items", r.Strategy, len(r.Items))
	if len(r.SignalsUsed) > 0 {
		names := make([]string, len(r.SignalsUsed))
		for i, sig := range r.SignalsUsed {
			names[i] = string(sig)
		}
		d += " based on " + strings.Join(names, ", ")
	}
	return d
}

// A signalDecision is the logged result of asking the consent policy about
// every personalization signal at once.
type signalDecision struct {
	Allow    bool   `json:"allow"`
	Status   Status `json:"status"`
	RecordID string `json:"record_id,omitempty"`
}

// allowedSignals asks the consent policy, for each personalization signal
// at touchpoint tp, whether u's personalization records allow it now, all
// in one Gate.ConsentBatch. The answers are logged as one decision.
func (s *Service) allowedSignals(ctx context.Context, u User, records []ConsentRecord, tp Touchpoint) ([]Signal, Decision, error) {
	id, subj := u.ID, u.Subject()
	rules, err := s.noticeRules(ctx)
	if err != nil {
		return nil, Decision{}, err
	}
	q := ConsentQuestion{Scope: Scope{Purpose: PurposePersonalization, Touchpoint: tp}, Subject: subj,
		Notice: rules[PurposePersonalization], Records: records, Now: s.now()}
	qs := make([]ConsentQuestion, len(Signals))
	for i, sig := range Signals {
		qs[i] = q
		qs[i].Scope.Signal = sig
	}
	vs, err := s.consentBatch(ctx, qs)
	if err != nil {
		return nil, Decision{}, err
	}
	var allowed []Signal
	results := make(map[Signal]signalDecision, len(Signals))
	for i, sig := range Signals {
		v := vs[i]
		results[sig] = signalDecision{Allow: v.Allow, Status: v.Status, RecordID: v.RecordID}
		if v.Allow {
			allowed = append(allowed, sig)
		}
	}
	d := Decision{ID: NewID("dec_"), At: s.now(), Path: "heed/consent/decision", Revision: s.gate.Revision(),
		User: id, Input: loggedQuestion(q), Allow: len(allowed) > 0,
		Result: map[string]any{"allow": len(allowed) > 0, "signals": results}}
	s.store.LogDecision(d)
	return allowed, d, nil
}
