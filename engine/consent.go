package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// A ConsentRecord records one change of consent. The ledger is append-only;
// the state in force is derived by Fold, never stored as truth.
type ConsentRecord struct {
	ID            string          `json:"id"`
	User          UserID          `json:"user_id"`
	Purpose       Purpose         `json:"purpose"`
	Channel       Channel         `json:"channel,omitempty"`    // only with PurposeMarketing
	Signal        Signal          `json:"signal,omitempty"`     // only with PurposePersonalization
	Recipient     string          `json:"recipient,omitempty"`  // only, and always, with PurposeThirdPartySharing
	Touchpoint    Touchpoint      `json:"touchpoint,omitempty"` // empty: every touchpoint
	Status        Status          `json:"status"`
	NoticeVersion string          `json:"notice_version,omitempty"`
	Source        string          `json:"source,omitempty"` // where it was captured, for audit
	Actor         string          `json:"actor,omitempty"`  // ActorSelf (empty) or ActorGuardian
	Evidence      json.RawMessage `json:"evidence,omitempty"`
	ExpiresAt     time.Time       `json:"expires_at,omitzero"`
	RecordedAt    time.Time       `json:"recorded_at"`
	MergedFrom    UserID          `json:"merged_from,omitempty"` // set when an identity merge moved the record
}

// A Scope is the part of a consent question or record that says what it is
// about. An empty Channel, Signal, Recipient or Touchpoint in a record covers
// every value.
type Scope struct {
	Purpose    Purpose    `json:"purpose"`
	Channel    Channel    `json:"channel,omitempty"`
	Signal     Signal     `json:"signal,omitempty"`
	Recipient  string     `json:"recipient,omitempty"`
	Touchpoint Touchpoint `json:"touchpoint,omitempty"`
}

// Scope returns the scope r is about.
func (r ConsentRecord) Scope() Scope {
	return Scope{Purpose: r.Purpose, Channel: r.Channel, Signal: r.Signal, Recipient: r.Recipient, Touchpoint: r.Touchpoint}
}

// Covers reports whether a record with scope s answers question q.
func (s Scope) Covers(q Scope) bool {
	return s.Purpose == q.Purpose &&
		(s.Channel == "" || s.Channel == q.Channel) &&
		(s.Signal == "" || s.Signal == q.Signal) &&
		(s.Recipient == "" || s.Recipient == q.Recipient) &&
		(s.Touchpoint == "" || s.Touchpoint == q.Touchpoint)
}

// Validate checks a question (as asked of /consents/check).
func (s Scope) Validate() error {
	var p problems
	s.validate(&p, "", false)
	return p.err()
}

func (s Scope) validate(p *problems, prefix string, record bool) {
	switch {
	case s.Purpose == "":
		p.add(prefix+"purpose", "is required")
	case !s.Purpose.Valid():
		p.add(prefix+"purpose", "unknown purpose %q; want one of %v", s.Purpose, Purposes)
	}
	if s.Channel != "" {
		if !s.Channel.Valid() {
			p.add(prefix+"channel", "unknown channel %q; want one of %v", s.Channel, Channels)
		} else if s.Purpose.Valid() && s.Purpose != PurposeMarketing {
			p.add(prefix+"channel", "a channel scopes only purpose marketing, not %s", s.Purpose)
		}
	}
	if s.Signal != "" {
		if !s.Signal.Valid() {
			p.add(prefix+"signal", "unknown signal %q; want one of %v", s.Signal, Signals)
		} else if s.Purpose.Valid() && s.Purpose != PurposePersonalization {
			p.add(prefix+"signal", "a signal scopes only purpose personalization, not %s", s.Purpose)
		}
	}
	if s.Recipient != "" {
		if s.Purpose.Valid() && s.Purpose != PurposeThirdPartySharing {
			p.add(prefix+"recipient", "a recipient scopes only purpose third_party_sharing, not %s", s.Purpose)
		} else if msg := checkText(s.Recipient, 128); msg != "" {
			p.add(prefix+"recipient", "%s", msg)
		}
	} else if record && s.Purpose == PurposeThirdPartySharing {
		p.add(prefix+"recipient", "is required with purpose third_party_sharing (PIPL art. 23 names the recipient)")
	}
	if s.Touchpoint != "" && !s.Touchpoint.Valid() {
		p.add(prefix+"touchpoint", "unknown touchpoint %q; want one of %v", s.Touchpoint, Touchpoints)
	}
}

// MaxEvidenceBytes bounds a record's evidence document.
const MaxEvidenceBytes = 8 << 10

// validate checks r as submitted at now, reporting fields under prefix.
func (r ConsentRecord) validate(p *problems, prefix string, now time.Time) {
	r.Scope().validate(p, prefix, true)
	switch {
	case r.Status == "":
		p.add(prefix+"status", "is required")
	case !r.Status.Recordable():
		p.add(prefix+"status", "unknown status %q; want one of %v", r.Status, Statuses)
	}
	if msg := checkText(r.NoticeVersion, 64); msg != "" {
		p.add(prefix+"notice_version", "%s", msg)
	}
	if msg := checkText(r.Source, 64); msg != "" {
		p.add(prefix+"source", "%s", msg)
	}
	if r.Actor != "" && r.Actor != ActorSelf && r.Actor != ActorGuardian {
		p.add(prefix+"actor", "unknown actor %q; want %q or %q", r.Actor, ActorSelf, ActorGuardian)
	}
	if len(r.Evidence) > 0 {
		if len(r.Evidence) > MaxEvidenceBytes {
			p.add(prefix+"evidence", "is larger than %d bytes", MaxEvidenceBytes)
		} else if !isJSONObject(r.Evidence) {
			p.add(prefix+"evidence", "must be a JSON object")
		}
	}
	if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now) {
		p.add(prefix+"expires_at", "must be in the future")
	}
}

// GuardianEvidence reports whether the evidence names the guardian who gave
// consent, as a minor's grant requires: a "guardian" member that is a
// non-blank string or a non-empty object.
func (r ConsentRecord) GuardianEvidence() bool {
	var ev map[string]any
	if json.Unmarshal(r.Evidence, &ev) != nil {
		return false
	}
	switch g := ev["guardian"].(type) {
	case string:
		return strings.TrimSpace(g) != ""
	case map[string]any:
		return len(g) > 0
	}
	return false
}

func isJSONObject(b json.RawMessage) bool {
	var m map[string]any
	return json.Unmarshal(b, &m) == nil && m != nil
}

// checkText returns why s is not acceptable as a short label, or "".
func checkText(s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("is longer than %d characters", max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "contains control characters"
		}
	}
	return ""
}

// A Subject carries the facts about the data subject that consent depends on.
type Subject struct {
	Minor           bool `json:"minor"`
	GuardianConsent bool `json:"guardian_consent"`
}

// NoticeRule says which notice versions a grant must carry to count. A nil
// Valid means every version counts (no notice requires re-consent).
type NoticeRule struct {
	Valid []string `json:"valid"`
}

// Counts reports whether a grant under version v counts.
func (n NoticeRule) Counts(v string) bool {
	return n.Valid == nil || slices.Contains(n.Valid, v)
}

// Consent decision reasons, shared by Fold and the consent policy.
const (
	ReasonGranted        = "granted"
	ReasonNoConsent      = "no_consent"
	ReasonDenied         = "denied"
	ReasonWithdrawn      = "withdrawn"
	ReasonNeedsReconsent = "needs_reconsent"
	ReasonMinor          = "minor_without_guardian"
	ReasonUnknownStatus  = "unknown_status"
)

// A ConsentResult is the consent in force for one question.
type ConsentResult struct {
	Allowed  bool      `json:"allowed"`
	Status   Status    `json:"status"`
	Reason   string    `json:"reason"`
	RecordID string    `json:"record_id,omitempty"` // the deciding record
	Since    time.Time `json:"since,omitzero"`
}

// Fold returns the consent in force for question q at now, from a user's
// ledger in append order. The newest unexpired record whose scope covers q
// decides; on a tie in time the more restrictive status wins, then the later
// record. A grant under a notice version that no longer counts decides as
// needs_reconsent. A minor's grant counts only with guardian consent, given
// by the guardian.
//
// Fold is the hand-written reference for the consent policy: the Rego
// decision and Fold must agree (policies tests check it on generated cases).
func Fold(records []ConsentRecord, q Scope, subj Subject, notice NoticeRule, now time.Time) ConsentResult {
	best := -1
	for i, r := range records {
		if r.Purpose != q.Purpose || !r.Scope().Covers(q) {
			continue
		}
		if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now) {
			continue
		}
		if best < 0 || newer(r, records[best]) {
			best = i
		}
	}
	if best < 0 {
		return ConsentResult{Status: StatusNone, Reason: ReasonNoConsent}
	}
	r := records[best]
	res := ConsentResult{Status: r.Status, RecordID: r.ID, Since: r.RecordedAt}
	switch {
	case r.Status == StatusDenied:
		res.Reason = ReasonDenied
	case r.Status == StatusWithdrawn:
		res.Reason = ReasonWithdrawn
	case r.Status != StatusGranted: // validation keeps these out; never allow one
		res.Reason = ReasonUnknownStatus
	case !notice.Counts(r.NoticeVersion):
		res.Status, res.Reason = StatusNeedsReconsent, ReasonNeedsReconsent
	case subj.Minor && (!subj.GuardianConsent || r.Actor != ActorGuardian):
		res.Reason = ReasonMinor
	default:
		res.Allowed, res.Reason = true, ReasonGranted
	}
	return res
}

// newer reports whether a decides over b, given that a comes later in the
// ledger: a later time wins, and on a tie the more restrictive status
// (a later record wins a full tie, which the ledger order gives).
func newer(a, b ConsentRecord) bool {
	if !a.RecordedAt.Equal(b.RecordedAt) {
		return a.RecordedAt.After(b.RecordedAt)
	}
	return a.Status.Restrictiveness() >= b.Status.Restrictiveness()
}

// An EffectiveConsent is the state in force at one scope that the ledger
// mentions.
type EffectiveConsent struct {
	Scope
	Status   Status    `json:"status"`
	Allowed  bool      `json:"allowed"`
	Reason   string    `json:"reason"`
	Since    time.Time `json:"since,omitzero"`
	RecordID string    `json:"record_id,omitempty"`
}

// Effective folds the ledger at every distinct scope its records name, in
// order of first mention. notices maps a purpose to its rule.
func Effective(records []ConsentRecord, subj Subject, notices map[Purpose]NoticeRule, now time.Time) []EffectiveConsent {
	seen := make(map[Scope]bool)
	var out []EffectiveConsent
	for _, r := range records {
		s := r.Scope()
		if seen[s] {
			continue
		}
		seen[s] = true
		res := Fold(records, s, subj, notices[s.Purpose], now)
		out = append(out, EffectiveConsent{Scope: s, Status: res.Status, Allowed: res.Allowed,
			Reason: res.Reason, Since: res.Since, RecordID: res.RecordID})
	}
	return out
}
