package engine_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"heed/engine"
)

func fields(err error) []string {
	var v *engine.ValidationError
	if !errors.As(err, &v) {
		return nil
	}
	var out []string
	for _, p := range v.Problems {
		out = append(out, p.Field)
	}
	return out
}

func TestParseBirthday(t *testing.T) {
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"02-29", true}, {"12-31", true}, {"01-01", true}, {"2000-02-29", true}, {"1990-05-17", true},
		{"1990-02-29", false}, {"1900-02-29", false}, {"02-30", false}, {"13-01", false}, {"00-10", false},
		{"04-31", false}, {"1-1", false}, {"2030-01-01", false}, {"1899-12-31", false}, {"", false},
		{"２０００-01-01", false}, {"1990/05/17", false}, {"1990-05-17T00:00:00Z", false},
	} {
		_, err := engine.ParseBirthday(c.in, now)
		if (err == nil) != c.ok {
			t.Errorf("ParseBirthday(%q) error = %v, want ok=%v", c.in, err, c.ok)
		}
	}
}

func TestProfileValidate(t *testing.T) {
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		p    engine.Profile
		want []string
	}{
		{"ok", engine.Profile{Name: "张三", Region: "310000", TimeZone: "Asia/Shanghai", Locale: "zh-CN", Birthday: "02-29", Tier: "gold"}, nil},
		{"bad zone", engine.Profile{TimeZone: "Mars/Olympus"}, []string{"time_zone"}},
		{"Local is not a zone", engine.Profile{TimeZone: "Local"}, []string{"time_zone"}},
		{"bad tier and locale", engine.Profile{Tier: "platinum", Locale: "zh_CN!"}, []string{"locale", "tier"}},
		{"guardian consent without minor", engine.Profile{GuardianConsent: true}, []string{"guardian_consent"}},
		{"control chars", engine.Profile{Name: "a\x00b"}, []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fields(tt.p.Validate(now))
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("fields = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUserIDValidate(t *testing.T) {
	for id, ok := range map[engine.UserID]bool{"u-1": true, "用户42": true, "": false, "a/b": false, " a": false, engine.UserID(strings.Repeat("x", 129)): false} {
		if err := id.Validate(); (err == nil) != ok {
			t.Errorf("UserID(%q).Validate() = %v, want ok=%v", id, err, ok)
		}
	}
}

func TestPreferencesValidate(t *testing.T) {
	tests := []struct {
		name string
		p    engine.Preferences
		want []string
	}{
		{"defaults", engine.DefaultPreferences(), nil},
		{"empty fills defaults", engine.Preferences{}, nil},
		{"bad values", engine.Preferences{
			Channels:     map[engine.Channel]engine.ChannelPref{"fax": {}, "email": {MaxPerDay: -1}},
			ChannelOrder: []engine.Channel{"push", "push"},
			QuietHours:   &engine.QuietHours{Start: "24:00", End: "8:00"},
			OfferTypes:   []string{"bogo"},
			Categories:   []string{""},
		}, []string{"categories[0]", "channel_order[1]", "channels.email.max_per_day", "channels.fax", "offer_types[0]", "quiet_hours.end", "quiet_hours.start"}},
		{"week below day", engine.Preferences{Channels: map[engine.Channel]engine.ChannelPref{"sms": {MaxPerDay: 3, MaxPerWeek: 2}}}, []string{"channels.sms.max_per_week"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fields(tt.p.Validate())
			slices.Sort(got)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("fields = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	type rec struct {
		N  int       `json:"n"`
		At time.Time `json:"expires_at"`
	}
	for _, c := range []struct {
		in, field string
	}{
		{``, "body"}, {`{"n":`, "body"}, {`{"n":"x"}`, "n"}, {`{"m":1}`, "m"}, {`{"n":1} {}`, "body"},
		{`{"expires_at":"2026-02-30T00:00:00Z"}`, "expires_at"}, {`[1]`, "body"},
	} {
		var r rec
		got := fields(engine.DecodeJSON([]byte(c.in), &r))
		if len(got) != 1 || got[0] != c.field {
			t.Errorf("DecodeJSON(%q) fields = %v, want [%s]", c.in, got, c.field)
		}
	}
	err := engine.Prefixed(engine.DecodeJSON([]byte(`{"n":"x"}`), new(rec)), "records[2].")
	if got := fields(err); len(got) != 1 || got[0] != "records[2].n" {
		t.Errorf("Prefixed fields = %v", got)
	}
}

func TestMergePatch(t *testing.T) {
	got, err := engine.MergePatch([]byte(`{"a":1,"b":{"c":2,"d":3}}`), []byte(`{"a":null,"b":{"c":5},"e":[1]}`))
	if err != nil || string(got) != `{"b":{"c":5,"d":3},"e":[1]}` {
		t.Errorf("MergePatch = %s, %v", got, err)
	}
}

func TestTokens(t *testing.T) {
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	tk := engine.Tokens{Secret: []byte("s3cret"), TTL: time.Hour}
	tok, exp := tk.Issue("用户/1", now)
	if !exp.Equal(now.Add(time.Hour)) {
		t.Errorf("expiry = %v", exp)
	}
	if id, err := tk.Verify(tok, now.Add(59*time.Minute)); err != nil || id != "用户/1" {
		t.Errorf("Verify = %q, %v", id, err)
	}
	if _, err := tk.Verify(tok, now.Add(time.Hour)); !errors.Is(err, engine.ErrBadToken) {
		t.Errorf("expired token: err = %v", err)
	}
	other := engine.Tokens{Secret: []byte("other")}
	if _, err := other.Verify(tok, now); !errors.Is(err, engine.ErrBadToken) {
		t.Errorf("token under another secret: err = %v", err)
	}
	if _, err := tk.Verify(tok[:len(tok)-2]+"xx", now); !errors.Is(err, engine.ErrBadToken) {
		t.Errorf("tampered token: err = %v", err)
	}
}

func TestDecodeJSONNestedUnknownField(t *testing.T) {
	for in, want := range map[string]string{
		`{"channels":{"email":{"colour":1}}}`:          "channels.email.colour",
		`{"quiet_hours":{"start":"22:00","x":1}}`:      "quiet_hours.x",
		`{"channel_order":["push"],"Version":1,"z":0}`: "z",
	} {
		var p engine.Preferences
		if got := fields(engine.DecodeJSON([]byte(in), &p)); len(got) != 1 || got[0] != want {
			t.Errorf("DecodeJSON(%s) fields = %v, want [%s]", in, got, want)
		}
	}
}

func TestWithoutUser(t *testing.T) {
	err := fmt.Errorf("deliveries of c17850: %w", engine.ErrNotFound)
	if got := engine.WithoutUser(err, "c17850").Error(); got != "deliveries of <user>: not found" {
		t.Errorf("WithoutUser = %q", got)
	}
	if got := engine.WithoutUser(err, "c999"); got != err {
		t.Errorf("an error not naming the user is not kept as it is: %v", got)
	}
	if engine.WithoutUser(nil, "c1") != nil {
		t.Error("WithoutUser(nil) is not nil")
	}
}
