package changes_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"heed/changes"
)

func TestSignVerify(t *testing.T) {
	secret := []byte("a-webhook-secret-0123")
	body := []byte(`{"event":"consent.changed","user_id":"u1","version":3}`)
	at := time.Unix(1767225600, 0)
	sig := changes.Sign(secret, at, body)
	if !strings.HasPrefix(sig, "t=1767225600,v1=") || len(sig) != len("t=1767225600,v1=")+64 {
		t.Fatalf("Sign = %q, want t=<unix>,v1=<64 hex digits>", sig)
	}
	rotated := "t=1767225600,v1=" + strings.Repeat("0", 64) + "," + sig[len("t=1767225600,"):]

	tests := []struct {
		name    string
		secret  []byte
		header  string
		body    []byte
		tol     time.Duration
		now     time.Time
		wantErr string // "" = valid
	}{
		{"Valid", secret, sig, body, 5 * time.Minute, at.Add(time.Minute), ""},
		{"SeveralSignatures", secret, rotated, body, 5 * time.Minute, at, ""},
		{"NoTimeCheck", secret, sig, body, 0, at.Add(24 * time.Hour), ""},
		{"WrongSecret", []byte("another-secret-xyz"), sig, body, 0, at, "does not match"},
		{"TamperedBody", secret, sig, []byte(`{"event":"consent.changed","user_id":"u2","version":3}`), 0, at, "does not match"},
		{"TooOld", secret, sig, body, 5 * time.Minute, at.Add(6 * time.Minute), "outside the tolerance"},
		{"FromTheFuture", secret, sig, body, 5 * time.Minute, at.Add(-6 * time.Minute), "outside the tolerance"},
		{"OtherTimestamp", secret, strings.Replace(sig, "t=1767225600", "t=1767225601", 1), body, 0, at, "does not match"},
		{"Missing", secret, "", body, 0, at, "no Heed-Signature header"},
		{"NoTimestamp", secret, sig[len("t=1767225600,"):], body, 0, at, "no timestamp"},
		{"NoV1", secret, "t=1767225600,v0=abc", body, 0, at, "no v1 signature"},
		{"Malformed", secret, "garbage", body, 0, at, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := changes.Verify(tt.secret, tt.header, tt.body, tt.tol, tt.now)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, changes.ErrBadSignature) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Verify = %v, want ErrBadSignature: ...%s...", err, tt.wantErr)
			}
		})
	}
}

func TestSignChangesWithTime(t *testing.T) {
	secret, body := []byte("a-webhook-secret-0123"), []byte(`{}`)
	a := changes.Sign(secret, time.Unix(100, 0), body)
	b := changes.Sign(secret, time.Unix(101, 0), body)
	if a[len("t=100,"):] == b[len("t=101,"):] {
		t.Error("the signature does not cover the timestamp")
	}
	if !strings.HasPrefix(b, "t="+strconv.Itoa(101)+",") {
		t.Errorf("Sign = %q", b)
	}
}
