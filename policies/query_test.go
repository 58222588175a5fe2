package policies_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"heed/engine"
)

func TestQuery(t *testing.T) {
	s := newSet(t)
	ctx := context.Background()
	shopper := map[string]any{"role": "shopper", "subject": "u1", "action": "consents.read", "owner": "u2"}
	tests := []struct {
		path  string
		input any
		want  any
	}{
		{"heed/authz/allow", shopper, false},
		{"data.heed.authz.allow", map[string]any{"role": "admin", "action": "users.read"}, true},
		{"/heed/authz/reasons", shopper, []any{"a shopper token reaches only its own user"}},
		{"heed.authz.decision", shopper, map[string]any{"allow": false, "reasons": []any{"a shopper token reaches only its own user"}}},
		{"heed/collect/allow", map[string]any{"event_type": "purchase"}, true},
		{"heed/authz/no_such_rule", shopper, nil},
		{"heed/nowhere/allow", nil, nil},
		{"heed/consent/decision", map[string]any{
			"scope": map[string]any{"purpose": "marketing", "channel": "email"},
			"now":   json.Number("2000"),
			"records": []any{map[string]any{"id": "r1", "scope": map[string]any{"purpose": "marketing"},
				"status": "granted", "notice_version": "", "actor": "", "recorded_at": json.Number("1000"),
				"expires_at": json.Number("9223372036854775807")}},
		}, map[string]any{"allow": true, "status": "granted", "reason": "granted", "record_id": "r1"}},
	}
	for _, tt := range tests {
		got, err := s.Query(ctx, tt.path, tt.input)
		if err != nil {
			t.Errorf("Query(%q): %v", tt.path, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Query(%q) = %#v, want %#v", tt.path, got, tt.want)
		}
	}
}

func TestQueryBadPath(t *testing.T) {
	s := newSet(t)
	for _, path := range []string{"", "data", "/", "heed//authz", "heed/authz/allow[0]", "heed authz",
		"heed/authz.allow/x", "heed/../authz", "heed/1x", `heed/"x"`} {
		if _, err := s.Query(context.Background(), path, nil); !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("Query(%q) = %v, want engine.ErrInvalid", path, err)
		}
	}
	// A keyword is a fine rule name when quoted in the reference Query builds.
	if _, err := s.Query(context.Background(), "heed/authz/if", nil); err != nil {
		t.Errorf("Query(heed/authz/if) = %v, want undefined", err)
	}
}

func TestQueryHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := newSet(t)
	if _, err := s.Query(ctx, "heed/authz/allow", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Query with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := s.Consent(ctx, benchQuestion()); !errors.Is(err, context.Canceled) {
		t.Errorf("Consent with a cancelled context = %v, want context.Canceled", err)
	}
}
