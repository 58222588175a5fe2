package engine

import (
	"context"
	"encoding/json"
	"fmt"
)

// AnyVersion, as ifMatch, skips the version check.
const AnyVersion = -1

// Preferences returns id's preferences (defaults, version 0, if none set).
func (s *Service) Preferences(ctx context.Context, id UserID) (Preferences, error) {
	if _, err := s.store.User(ctx, id); err != nil {
		return Preferences{}, err
	}
	return s.store.Preferences(ctx, id)
}

// PutPreferences replaces id's preferences. With ifMatch other than
// AnyVersion, it fails with ErrStale unless the stored version is ifMatch.
func (s *Service) PutPreferences(ctx context.Context, id UserID, p Preferences, ifMatch int) (Preferences, error) {
	if err := p.Validate(); err != nil {
		return Preferences{}, err
	}
	return s.updatePreferences(ctx, id, ifMatch, func(Preferences) (Preferences, error) { return p, nil })
}

// PatchPreferences applies a JSON merge patch (RFC 7396) to id's
// preferences, with ifMatch as for PutPreferences.
func (s *Service) PatchPreferences(ctx context.Context, id UserID, patch []byte, ifMatch int) (Preferences, error) {
	if err := DecodeJSON(patch, new(map[string]any)); err != nil {
		return Preferences{}, err
	}
	return s.updatePreferences(ctx, id, ifMatch, func(old Preferences) (Preferences, error) {
		doc, err := json.Marshal(old)
		if err != nil {
			return Preferences{}, err
		}
		merged, err := MergePatch(doc, patch)
		if err != nil {
			return Preferences{}, err
		}
		var p Preferences
		if err := DecodeJSON(merged, &p); err != nil {
			return Preferences{}, err
		}
		return p, p.Validate()
	})
}

func (s *Service) updatePreferences(ctx context.Context, id UserID, ifMatch int, change func(Preferences) (Preferences, error)) (Preferences, error) {
	if _, err := s.store.User(ctx, id); err != nil {
		return Preferences{}, err
	}
	now := s.now()
	p, err := s.store.UpdatePreferences(ctx, id, func(old Preferences) (Preferences, Effects, error) {
		if ifMatch != AnyVersion && old.Version != ifMatch {
			return Preferences{}, Effects{}, fmt.Errorf("preferences are at version %d, not %d: %w", old.Version, ifMatch, ErrStale)
		}
		p, err := change(old)
		if err != nil {
			return Preferences{}, Effects{}, err
		}
		p.Version, p.UpdatedAt = old.Version+1, now
		e := s.activity(ctx, id, ActionPreferenceChange, "")
		e.Detail = fmt.Sprintf("preferences changed (version %d)", p.Version)
		fx := Effects{Activity: []ActivityEntry{e},
			Outbox: s.change(EventPreferencesChanged, id, int64(p.Version), now, map[string]any{"preferences": p})}
		return p, fx, nil
	})
	if err != nil {
		return Preferences{}, err
	}
	s.changed()
	return p, nil
}

// Interests returns id's interest tags, with their weights decayed to now
// (InterestHalfLife), heaviest first, and the tags the user deleted.
func (s *Service) Interests(ctx context.Context, id UserID) (Interests, error) {
	if _, err := s.store.User(ctx, id); err != nil {
		return Interests{}, err
	}
	in, err := s.store.Interests(ctx, id)
	if err != nil {
		return Interests{}, err
	}
	in = in.At(s.now())
	in.Tags, in.Deleted = nonNil(in.Tags), nonNil(in.Deleted)
	return in, nil
}

// DeleteInterest removes tag from id's interests for good: it is never
// derived or used again for that user.
func (s *Service) DeleteInterest(ctx context.Context, id UserID, tag string) error {
	if tag == "" {
		return Invalid("tag", "is required")
	}
	if msg := checkText(tag, 128); msg != "" {
		return Invalid("tag", "%s", msg)
	}
	if _, err := s.store.User(ctx, id); err != nil {
		return err
	}
	e := s.activity(ctx, id, ActionInterestDeleted, "")
	e.Detail = "deleted interest tag " + tag
	now := s.now()
	fx := Effects{Activity: []ActivityEntry{e},
		Outbox: s.change(EventPreferencesChanged, id, now.UnixNano(), now, map[string]any{"deleted_interest": tag})}
	if err := s.store.DeleteInterest(ctx, id, tag, fx); err != nil {
		return err
	}
	s.changed()
	return nil
}

// MaxActivityPage bounds one page of the usage log.
const MaxActivityPage = 200

// Activity returns one page of id's usage log, newest first, and the cursor
// of the next page ("" at the end).
func (s *Service) Activity(ctx context.Context, id UserID, cursor string, limit int) ([]ActivityEntry, string, error) {
	if limit < 1 || limit > MaxActivityPage {
		return nil, "", Invalid("limit", "must be between 1 and %d", MaxActivityPage)
	}
	if _, err := s.store.User(ctx, id); err != nil {
		return nil, "", err
	}
	return s.store.Activity(ctx, id, cursor, limit)
}
