package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// UnsubscribePrefix starts every unsubscribe token, so one is never taken
// for a shopper token or an API key.
const UnsubscribePrefix = "hun_"

// unsubscribeDomain separates unsubscribe signatures from shopper-token
// signatures made with the same secret: neither can stand in for the other.
const unsubscribeDomain = "heed-unsubscribe\n"

// SourceUnsubscribeLink is the source of the consent records an unsubscribe
// link writes.
const SourceUnsubscribeLink = "unsubscribe_link"

// unsubscribeClaims are what an unsubscribe token carries.
type unsubscribeClaims struct {
	User     UserID  `json:"u"`
	Channel  Channel `json:"ch,omitempty"`
	Campaign string  `json:"c,omitempty"`
	Delivery string  `json:"d,omitempty"`
}

// UnsubscribeToken returns the token of d's one-click unsubscribe link
// (RFC 8058): d's user, channel, campaign and id, signed with the shopper
// token secret under a domain of its own. It never expires, so the link in
// an old message keeps working. A delivery with no channel yields a link
// that withdraws marketing on every channel.
func (s *Service) UnsubscribeToken(d Delivery) string {
	raw, err := json.Marshal(unsubscribeClaims{User: d.User, Channel: d.Channel, Campaign: d.Campaign, Delivery: d.ID})
	if err != nil {
		panic(fmt.Sprintf("engine: unsubscribe claims do not marshal: %v", err)) // our own type: a bug
	}
	payload := base64.RawURLEncoding.EncodeToString(raw)
	return UnsubscribePrefix + payload + "." + s.signUnsubscribe(payload)
}

func (s *Service) signUnsubscribe(payload string) string {
	m := hmac.New(sha256.New, s.opts.Tokens.Secret)
	m.Write([]byte(unsubscribeDomain + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verifyUnsubscribe returns the claims of token. Returns ErrBadToken
// (wrapped) if it is malformed or not signed by us.
func (s *Service) verifyUnsubscribe(token string) (unsubscribeClaims, error) {
	bad := fmt.Errorf("not an unsubscribe link of ours: %w", ErrBadToken)
	rest, ok := strings.CutPrefix(token, UnsubscribePrefix)
	if !ok {
		return unsubscribeClaims{}, bad
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.signUnsubscribe(payload))) {
		return unsubscribeClaims{}, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return unsubscribeClaims{}, bad
	}
	var cl unsubscribeClaims
	if err := json.Unmarshal(raw, &cl); err != nil || cl.User == "" || (cl.Channel != "" && !cl.Channel.Valid()) {
		return unsubscribeClaims{}, bad
	}
	return cl, nil
}

// UnsubscribeInfo returns the channel an unsubscribe token withdraws
// marketing on ("" for every channel), for the page that offers it. It
// reads nothing: an erased user's link still verifies here. Returns
// ErrBadToken (wrapped) if the token is not one of ours.
func (s *Service) UnsubscribeInfo(token string) (Channel, error) {
	cl, err := s.verifyUnsubscribe(token)
	if err != nil {
		return "", err
	}
	return cl.Channel, nil
}

// Unsubscribe follows a one-click unsubscribe link: acting as the shopper
// the token names, it withdraws marketing on the token's channel (every
// channel if it names none), at every touchpoint, with the campaign and
// delivery as evidence, and returns the stored record. Following a link
// twice appends a second withdrawal: the ledger records each request.
// Returns ErrBadToken (wrapped) if the token is not one of ours,
// ErrNotFound if its user no longer exists (erased), or a *DeniedError if
// the policy does not let the shopper withdraw.
func (s *Service) Unsubscribe(ctx context.Context, token string) (ConsentRecord, error) {
	cl, err := s.verifyUnsubscribe(token)
	if err != nil {
		return ConsentRecord{}, err
	}
	ctx = WithActor(ctx, Actor{Role: RoleShopper, Subject: cl.User, KeyID: "unsubscribe"})
	d, err := s.Authorize(ctx, "consents.write", cl.User)
	if err != nil {
		return ConsentRecord{}, err
	}
	evidence, err := json.Marshal(map[string]string{"campaign_id": cl.Campaign, "delivery_id": cl.Delivery})
	if err != nil {
		return ConsentRecord{}, err
	}
	rs, err := s.RecordConsents(WithDecisionID(ctx, d.ID), cl.User, []ConsentRecord{{
		Purpose: PurposeMarketing, Channel: cl.Channel, Status: StatusWithdrawn,
		Source: SourceUnsubscribeLink, Evidence: evidence,
	}})
	if err != nil {
		return ConsentRecord{}, err
	}
	return rs[0], nil
}
