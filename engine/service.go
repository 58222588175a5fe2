package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Options configure a Service. Zero values are usable.
type Options struct {
	// ChangeTargets are the URLs every consent, preference and erasure change
	// is pushed to (HEED_CHANGE_WEBHOOKS); none: no change events.
	ChangeTargets []string
	// ProofKey keys the hash under which erasure keeps its proof.
	ProofKey []byte
	// Tokens issues and verifies shopper tokens.
	Tokens Tokens
	// Changed is called, without blocking, after a change was queued for the
	// targets (it wakes the dispatcher). Nil: nothing is called.
	Changed func()
	// Erased is called, without blocking, after a user was erased (the
	// recommender retrains soon, so the user's influence leaves the model;
	// the scheduler takes the id out of the tasks waiting in Redis, which
	// the store lists). Nil: nothing is called.
	Erased func()
	// Now returns the current time; nil: time.Now.
	Now func() time.Time
	// Recommender, if set, is told of every catalog change (PutItems).
	Recommender Recommender
	// SendLease is how long a claimed campaign message belongs to the
	// worker that claimed it (it must exceed the slowest channel's send);
	// zero: DefaultSendLease.
	SendLease time.Duration
	// Purchased, if set, is called with the purchases of each stored batch
	// of events, after they are stored (campaigns count conversions), with
	// a context that the request's end does not cancel.
	Purchased func(ctx context.Context, purchases []Event)
}

// Service is the one way in to heed's domain: every action is decided by
// the policy gate, written through the store and, where it touches a
// shopper's data, recorded in that shopper's usage log. It is safe for
// concurrent use.
type Service struct {
	store Store
	gate  Gate
	opts  Options
	log   *slog.Logger

	mu      sync.Mutex
	notices *noticeCache // guarded by mu; nil until loaded
}

// NewService returns a Service over store and gate.
func NewService(store Store, gate Gate, opts Options, log *slog.Logger) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: store, gate: gate, opts: opts, log: log}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// decide wraps a verdict in a logged Decision.
func (s *Service) decide(path string, user UserID, input any, v Verdict) Decision {
	d := Decision{ID: NewID("dec_"), At: s.now(), Path: path, Revision: s.gate.Revision(),
		User: user, Input: input, Allow: v.Allow, Reasons: v.Reasons}
	d.Result = verdictResult(v)
	s.store.LogDecision(d)
	return d
}

func verdictResult(v Verdict) map[string]any {
	r := map[string]any{"allow": v.Allow}
	if len(v.Reasons) > 0 {
		r["reasons"] = v.Reasons
	}
	if v.Status != "" {
		r["status"] = v.Status
	}
	if v.RecordID != "" {
		r["record_id"] = v.RecordID
	}
	return r
}

// Authorize asks the authz policy whether the caller in ctx may perform
// action on owner's data (owner may be empty). A denial is a *DeniedError
// (ErrForbidden) and, when it concerns an existing user, is recorded in that
// user's usage log.
func (s *Service) Authorize(ctx context.Context, action string, owner UserID) (Decision, error) {
	a := ActorFrom(ctx)
	req := AccessRequest{Role: a.Role, Subject: a.Subject, Action: action, Owner: owner}
	v, err := s.gate.Authorize(ctx, req)
	if err != nil {
		return Decision{}, fmt.Errorf("authorize %s: %w", action, err)
	}
	d := s.decide("heed/authz", owner, req, v)
	if v.Allow {
		return d, nil
	}
	if owner != "" {
		if _, err := s.store.User(ctx, owner); err == nil {
			e := s.activity(ctx, owner, ActionAccessDenied, d.ID)
			e.Reason = firstReason(v.Reasons, "denied by policy")
			e.Detail = "attempted " + action
			if err := s.store.AppendActivity(ctx, e); err != nil {
				s.log.WarnContext(ctx, "usage log: recording a denial failed", "err", WithoutUser(err, owner))
			}
		}
	}
	return d, &DeniedError{DecisionID: d.ID, Reasons: v.Reasons}
}

func firstReason(rs []string, def string) string {
	if len(rs) > 0 {
		return rs[0]
	}
	return def
}

// activity starts a usage-log entry for the caller in ctx.
func (s *Service) activity(ctx context.Context, user UserID, action, decisionID string) ActivityEntry {
	if decisionID == "" {
		decisionID = DecisionIDFrom(ctx)
	}
	return ActivityEntry{ID: NewID("act_"), User: user, At: s.now(), Action: action,
		Actor: string(ActorFrom(ctx).Role), DecisionID: decisionID}
}

// change returns the outbox items announcing a change to every target.
func (s *Service) change(event string, user UserID, version int64, at time.Time, extra map[string]any) []OutboxItem {
	if len(s.opts.ChangeTargets) == 0 {
		return nil
	}
	body := map[string]any{"event": event, "user_id": user, "version": version, "at": at}
	for k, v := range extra {
		body[k] = v
	}
	raw, err := json.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("engine: change body does not marshal: %v", err)) // our own types: a bug
	}
	c := Change{ID: NewID("chg_"), Event: event, User: user, At: at, Body: raw}
	items := make([]OutboxItem, len(s.opts.ChangeTargets))
	for i, t := range s.opts.ChangeTargets {
		items[i] = OutboxItem{ID: NewID("out_"), Target: t, Change: c, NextAt: at}
	}
	return items
}

func (s *Service) changed() {
	if s.opts.Changed != nil {
		s.opts.Changed()
	}
}

// Decision returns a logged decision. Returns ErrNotFound if unknown or expired.
func (s *Service) Decision(ctx context.Context, id string) (Decision, error) {
	return s.store.Decision(ctx, id)
}

// RecentDecisions returns up to limit (1 to MaxRecentDecisions) logged
// decisions, newest first, for an admin's view of what the policies
// decided.
func (s *Service) RecentDecisions(ctx context.Context, limit int) ([]Decision, error) {
	if limit < 1 || limit > MaxRecentDecisions {
		return nil, Invalid("limit", "must be between 1 and %d", MaxRecentDecisions)
	}
	return s.store.RecentDecisions(ctx, limit)
}

// MaxRecentDecisions bounds RecentDecisions.
const MaxRecentDecisions = 500

// Query evaluates any policy rule for an admin (POST /v1/decisions) and logs
// the decision.
func (s *Service) Query(ctx context.Context, path string, input any) (any, Decision, error) {
	res, err := s.gate.Query(ctx, path, input)
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return nil, Decision{}, err
		}
		return nil, Decision{}, Invalid("path", "evaluation failed: %v", err)
	}
	d := Decision{ID: NewID("dec_"), At: s.now(), Path: path, Revision: s.gate.Revision(), Input: input, Result: res}
	if b, ok := res.(bool); ok {
		d.Allow = b
	}
	s.store.LogDecision(d)
	return res, d, nil
}

// Policies returns the modules in force and the set's revision.
func (s *Service) Policies() (map[string]string, string) {
	return s.gate.Modules(), s.gate.Revision()
}

// ReplacePolicy compiles and tests the policy set with module name replaced;
// on success it takes effect and is stored so it survives a restart. Returns
// a *PolicyError (ErrPolicyReject) and keeps the old set otherwise.
func (s *Service) ReplacePolicy(ctx context.Context, name, text string) (string, error) {
	if err := s.gate.Replace(ctx, name, text); err != nil {
		return "", err
	}
	if err := s.store.PutPolicyModule(ctx, name, text); err != nil {
		return "", fmt.Errorf("store policy %s: %w", name, err)
	}
	rev := s.gate.Revision()
	s.log.InfoContext(ctx, "policy replaced", "module", name, "revision", rev)
	return rev, nil
}
