package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// ErrBadToken reports a shopper token that is malformed, forged or expired.
var ErrBadToken = errors.New("bad or expired shopper token")

// TokenPrefix starts every shopper token, so a token is never taken for an
// API key.
const TokenPrefix = "hst_"

// Tokens issues and verifies shopper tokens: HMAC-SHA256-signed
// "user id, expiry" pairs, so verifying one needs no store read.
type Tokens struct {
	Secret []byte
	TTL    time.Duration // zero: 24 hours
}

// Issue returns a token for id valid until the returned time.
func (t Tokens) Issue(id UserID, now time.Time) (string, time.Time) {
	ttl := t.TTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	exp := now.Add(ttl).Truncate(time.Second)
	payload := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(exp.Unix(), 10) + "\n" + string(id)))
	return TokenPrefix + payload + "." + t.sign(payload), exp
}

// Verify returns the user a token is for. Returns ErrBadToken if it is not
// one of ours or has expired.
func (t Tokens) Verify(token string, now time.Time) (UserID, error) {
	rest, ok := strings.CutPrefix(token, TokenPrefix)
	if !ok {
		return "", ErrBadToken
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(t.sign(payload))) {
		return "", ErrBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", ErrBadToken
	}
	expS, id, ok := strings.Cut(string(raw), "\n")
	exp, err := strconv.ParseInt(expS, 10, 64)
	if !ok || err != nil || !now.Before(time.Unix(exp, 0)) || id == "" {
		return "", ErrBadToken
	}
	return UserID(id), nil
}

func (t Tokens) sign(payload string) string {
	m := hmac.New(sha256.New, t.Secret)
	m.Write([]byte("heed-shopper-token\n" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
