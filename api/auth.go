package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

const ctxActor = "heed.actor" // gin context key

// keyring maps the SHA-256 of each API key to its caller. Looking keys up by
// hash keeps the comparison independent of where the key differs.
type keyring map[[sha256.Size]byte]engine.Actor

func newKeyring(keys map[string]engine.Role, log *slog.Logger) keyring {
	k := make(keyring, len(keys))
	for key, role := range keys {
		switch {
		case key == "":
			log.Warn("api: ignoring an empty API key", "role", role)
			continue
		case strings.HasPrefix(key, engine.TokenPrefix):
			log.Warn("api: ignoring an API key that looks like a shopper token", "role", role)
			continue
		case !role.Valid():
			log.Warn("api: ignoring an API key with an unknown role", "role", role)
			continue
		}
		sum := sha256.Sum256([]byte(key))
		k[sum] = engine.Actor{Role: role, KeyID: string(role) + ":" + hex.EncodeToString(sum[:4])}
	}
	return k
}

// tokenVerifier verifies shopper tokens; engine.Service satisfies it.
type tokenVerifier interface {
	VerifyToken(token string) (engine.UserID, error)
}

// authenticate resolves the bearer credential (or, without one, a page's
// session cookie, session.go) to an Actor and puts it in the request
// context. No, unknown or expired credentials are 401. The
// answers hold personal data or tokens: no cache may keep them.
func authenticate(keys keyring, tokens tokenVerifier, ss sessions) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		a, err := resolveActor(c.GetHeader("Authorization"), keys, tokens)
		if errors.Is(err, errNoCredentials) { // a page's request: the session cookie
			if ca, ok, cerr := ss.fromCookie(c); ok {
				a, err = ca, cerr
			}
		}
		if err != nil {
			_ = c.Error(err)
			c.Abort()
			return
		}
		c.Set(ctxActor, a)
		c.Request = c.Request.WithContext(engine.WithActor(c.Request.Context(), a))
		c.Next()
	}
}

func resolveActor(header string, keys keyring, tokens tokenVerifier) (engine.Actor, error) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(header), " ")
	cred = strings.TrimSpace(cred)
	if header == "" || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return engine.Actor{}, errNoCredentials
	}
	if strings.HasPrefix(cred, engine.TokenPrefix) {
		id, err := tokens.VerifyToken(cred)
		if err != nil {
			return engine.Actor{}, err
		}
		return engine.Actor{Role: engine.RoleShopper, Subject: id, KeyID: "token"}, nil
	}
	a, ok := keys[sha256.Sum256([]byte(cred))]
	if !ok {
		return engine.Actor{}, errUnknownKey
	}
	return a, nil
}

func actorOf(c *gin.Context) (engine.Actor, bool) {
	v, ok := c.Get(ctxActor)
	if !ok {
		return engine.Actor{}, false
	}
	a, ok := v.(engine.Actor)
	return a, ok
}

// authorizer asks the authz policy; engine.Service satisfies it.
type authorizer interface {
	Authorize(ctx context.Context, action string, owner engine.UserID) (engine.Decision, error)
}

// authorize asks the policy whether the caller may perform action on the
// data of the user named by path parameter owner ("" for none). A denial is
// a 403 carrying the decision id; an allowed request carries the decision
// id in its context, for the usage-log entries it writes.
func authorize(s authorizer, action, owner string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var who engine.UserID
		if owner != "" {
			who = engine.UserID(c.Param(owner))
		}
		d, err := s.Authorize(c.Request.Context(), action, who)
		if err != nil {
			_ = c.Error(err)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(engine.WithDecisionID(c.Request.Context(), d.ID))
		c.Next()
	}
}
