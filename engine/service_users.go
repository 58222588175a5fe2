package engine

import (
	"context"
	"errors"
	"time"
)

// PutUser creates or updates a user's profile.
func (s *Service) PutUser(ctx context.Context, id UserID, p Profile) (User, error) {
	if err := id.Validate(); err != nil {
		return User{}, err
	}
	now := s.now()
	if err := p.Validate(now); err != nil {
		return User{}, err
	}
	return s.store.PutUser(ctx, id, p, now)
}

// User returns a user. Returns ErrNotFound if unknown.
func (s *Service) User(ctx context.Context, id UserID) (User, error) {
	return s.store.User(ctx, id)
}

// IssueToken returns a shopper token for an existing user.
func (s *Service) IssueToken(ctx context.Context, id UserID) (string, time.Time, error) {
	if _, err := s.store.User(ctx, id); err != nil {
		return "", time.Time{}, err
	}
	tok, exp := s.opts.Tokens.Issue(id, s.now())
	return tok, exp, nil
}

// VerifyToken returns the user a shopper token is for (ErrBadToken otherwise).
func (s *Service) VerifyToken(token string) (UserID, error) {
	return s.opts.Tokens.Verify(token, s.now())
}

// AddIdentity links ident to user id. If another user holds it, it returns
// an *IdentityConflict (ErrConflict) unless merge is set: then that user is
// merged into id — ledger, identities, interests, usage log — and, at every
// consent question both users answered, the stricter state wins.
func (s *Service) AddIdentity(ctx context.Context, id UserID, ident Identity, merge bool) (User, error) {
	if err := ident.Validate(); err != nil {
		return User{}, err
	}
	if _, err := s.store.User(ctx, id); err != nil {
		return User{}, err
	}
	e := s.activity(ctx, id, ActionIdentityLinked, "")
	e.Detail = "linked a " + string(ident.Type) + " identity"
	err := s.store.AddIdentity(ctx, id, ident, Effects{Activity: []ActivityEntry{e}})
	var conflict *IdentityConflict
	switch {
	case err == nil:
		return s.store.User(ctx, id)
	case !errors.As(err, &conflict) || !merge:
		return User{}, err
	}
	if err := s.merge(ctx, id, conflict.Owner, ident); err != nil {
		return User{}, err
	}
	return s.store.User(ctx, id)
}

func (s *Service) merge(ctx context.Context, survivor, absorbed UserID, ident Identity) error {
	if _, err := s.Authorize(ctx, "users.write", absorbed); err != nil {
		return err // merging needs the right to change the other user too
	}
	mine, err := s.store.Consents(ctx, survivor, "")
	if err != nil {
		return err
	}
	theirs, err := s.store.Consents(ctx, absorbed, "")
	if err != nil {
		return err
	}
	now := s.now()
	recs := MergeConsents(mine, theirs, absorbed, now)
	for i := range recs {
		recs[i].ID = NewID("con_")
		recs[i].User = survivor
	}
	e := s.activity(ctx, survivor, ActionIdentityMerge, "")
	e.Detail = "merged another account that shared a " + string(ident.Type) + " identity; the stricter consent won"
	fx := Effects{Activity: []ActivityEntry{e}}
	fx.Outbox = append(fx.Outbox, s.change(EventConsentChanged, survivor, now.UnixNano(), now,
		map[string]any{"records": proofless(recs), "merged_from": absorbed})...)
	fx.Outbox = append(fx.Outbox, s.change(EventUserErased, absorbed, now.UnixNano(), now,
		map[string]any{"merged_into": survivor})...)
	if err := s.store.Merge(ctx, Merge{Survivor: survivor, Absorbed: absorbed, Identity: ident, Records: recs, Effects: fx}); err != nil {
		return err
	}
	s.changed()
	return nil
}

// ResolveIdentity returns the user holding ident. Returns ErrNotFound if none.
func (s *Service) ResolveIdentity(ctx context.Context, ident Identity) (UserID, error) {
	if err := ident.Validate(); err != nil {
		return "", err
	}
	return s.store.ResolveIdentity(ctx, ident)
}
