package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// An Export is everything heed holds about a user (PIPL art. 45, GDPR art. 15 and 20).
type Export struct {
	ExportedAt  time.Time          `json:"exported_at"`
	User        User               `json:"user"`
	Consents    []ConsentRecord    `json:"consents"`
	Effective   []EffectiveConsent `json:"effective_consents"`
	Preferences Preferences        `json:"preferences"`
	Interests   Interests          `json:"interests"`
	Events      []Event            `json:"events"`
	Activity    []ActivityEntry    `json:"activity"`
	// Deliveries are the campaign messages planned for the user: sent,
	// suppressed, deferred or still to come, with the purchases attributed
	// to them.
	Deliveries []Delivery `json:"deliveries"`
}

// Export returns everything held about id, and records the export in the
// usage log (the entry is part of the export).
func (s *Service) Export(ctx context.Context, id UserID) (Export, error) {
	u, err := s.store.User(ctx, id)
	if err != nil {
		return Export{}, err
	}
	e := s.activity(ctx, id, ActionExport, "")
	e.Detail = "exported all data"
	if err := s.store.AppendActivity(ctx, e); err != nil {
		return Export{}, err
	}
	x := Export{ExportedAt: s.now(), User: u}
	if x.Consents, err = s.store.Consents(ctx, id, ""); err != nil {
		return Export{}, err
	}
	rules, err := s.noticeRules(ctx)
	if err != nil {
		return Export{}, err
	}
	x.Effective = Effective(x.Consents, u.Subject(), rules, x.ExportedAt)
	if x.Preferences, err = s.store.Preferences(ctx, id); err != nil {
		return Export{}, err
	}
	if x.Interests, err = s.store.Interests(ctx, id); err != nil {
		return Export{}, err
	}
	x.Interests = x.Interests.At(x.ExportedAt)
	if x.Events, err = s.store.Events(ctx, id, 0); err != nil {
		return Export{}, err
	}
	for cursor := ""; ; {
		page, next, err := s.store.Activity(ctx, id, cursor, MaxActivityPage)
		if err != nil {
			return Export{}, err
		}
		x.Activity = append(x.Activity, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if x.Deliveries, err = s.store.UserDeliveries(ctx, id); err != nil {
		return Export{}, err
	}
	x.Consents = nonNil(x.Consents)
	x.Deliveries = nonNil(x.Deliveries)
	x.Effective = nonNil(x.Effective)
	x.Activity = nonNil(x.Activity)
	x.Events = nonNil(x.Events)
	x.Interests.Tags = nonNil(x.Interests.Tags)
	x.Interests.Deleted = nonNil(x.Interests.Deleted)
	return x, nil
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Erase deletes everything held about id: profile, identities, ledger,
// preferences, interests, events, usage log and decisions. Only the minimal proof
// of consent and withdrawal stays, without evidence, under a keyed hash of
// the id; a later user with the same id or identities starts empty.
func (s *Service) Erase(ctx context.Context, id UserID) (ErasureProof, error) {
	if _, err := s.store.User(ctx, id); err != nil {
		return ErasureProof{}, err
	}
	records, err := s.store.Consents(ctx, id, "")
	if err != nil {
		return ErasureProof{}, err
	}
	now := s.now()
	hash := s.SubjectHash(id)
	// The erasure's own decision record names the subject only by its hash,
	// so that it survives the erasure of everything logged under the id.
	a := ActorFrom(ctx)
	d := Decision{ID: NewID("dec_"), At: now, Path: "heed/erasure", Revision: s.gate.Revision(), Allow: true,
		Input:  map[string]any{"action": "users.erase", "role": a.Role, "subject_hash": hash},
		Result: map[string]any{"allow": true, "authorized_by": DecisionIDFrom(ctx)}}
	s.store.LogDecision(d)
	proof := ErasureProof{SubjectHash: hash, ErasedAt: now, DecisionID: d.ID}
	for _, r := range records {
		proof.Records = append(proof.Records, ProofRecord{ID: r.ID, Scope: r.Scope(), Status: r.Status,
			NoticeVersion: r.NoticeVersion, Actor: r.Actor, RecordedAt: r.RecordedAt})
	}
	fx := Effects{Outbox: s.change(EventUserErased, id, now.UnixNano(), now, nil)}
	if err := s.store.Erase(ctx, id, proof, fx); err != nil {
		return ErasureProof{}, err
	}
	s.log.InfoContext(ctx, "user erased", "subject_hash", proof.SubjectHash, "records_kept_as_proof", len(proof.Records))
	s.changed()
	if s.opts.Erased != nil {
		s.opts.Erased()
	}
	return proof, nil
}

// SubjectHash is the keyed hash under which an erased user's proof is kept.
func (s *Service) SubjectHash(id UserID) string {
	m := hmac.New(sha256.New, s.opts.ProofKey)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))
}
