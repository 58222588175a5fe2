package api

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"heed/engine"
	"heed/web"
)

// pageCSP is the Content-Security-Policy of the pages and their assets:
// everything from heed itself, no inline script, nothing framed.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// shopperSessionTTL bounds a shopper's page session; the token it came
// from may end it sooner.
const shopperSessionTTL = 24 * time.Hour

// consoleRoles may sign in to /console.
var consoleRoles = []engine.Role{engine.RoleMerchandiser, engine.RoleMarketing, engine.RoleAdmin}

var (
	errCrossOrigin = fmt.Errorf("%w: sign-in is accepted only from heed's own pages", engine.ErrForbidden)
	errNotConsole  = fmt.Errorf("%w: this key's role cannot use the console (merchandiser, marketing or admin)", engine.ErrForbidden)
	errNoAsset     = fmt.Errorf("no such page asset: %w", engine.ErrNotFound)
)

func pageHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// handlePage serves a page's HTML: GET /me, GET /console. The HTML is the
// same for everyone and holds no data; its script asks GET /v1/session who
// is signed in, and shows the sign-in form when nobody is. /me?token=...
// (the link a storefront hands out) first turns the shopper token into a
// session and redirects to /me, so the token leaves the address bar.
func handlePage(name string, tokens tokenVerifier, ss sessions) gin.HandlerFunc {
	return func(c *gin.Context) {
		pageHeaders(c)
		c.Header("Cache-Control", "no-store")
		if tok := c.Query("token"); tok != "" && name == "me.html" {
			if id, err := tokens.VerifyToken(tok); err == nil {
				ss.set(c, session{Role: engine.RoleShopper, Subject: id, KeyID: "token",
					Expires: time.Now().Add(shopperSessionTTL).Unix()})
			}
			c.Redirect(http.StatusSeeOther, "/me")
			return
		}
		b, ct, ok := web.Asset(name)
		if !ok {
			fail(c, errNoAsset)
			return
		}
		c.Data(http.StatusOK, ct, b)
	}
}

// handleAsset serves the pages' scripts and styles: GET /assets/:name.
func handleAsset() gin.HandlerFunc {
	return func(c *gin.Context) {
		name := c.Param("name")
		b, ct, ok := web.Asset(name)
		if !ok || name == "me.html" || name == "console.html" {
			fail(c, errNoAsset)
			return
		}
		pageHeaders(c)
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, ct, b)
	}
}

// sameOrigin reports whether a sign-in POST comes from heed's own pages:
// its Origin (or, without one, its Referer) names this host. A sign-in
// from another site (login CSRF) is refused.
func sameOrigin(c *gin.Context) bool {
	origin := c.GetHeader("Origin")
	if origin == "" {
		origin = c.GetHeader("Referer")
	}
	if origin == "" {
		return true // not a browser on another site: a browser sends one
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == c.Request.Host
}

// signIn is the body of POST /me/session (token) and POST
// /console/session (key).
type signIn struct {
	Token string `json:"token,omitempty"`
	Key   string `json:"key,omitempty"`
}

// handleSignIn turns a shopper token (POST /me/session) or an API key
// (POST /console/session) into a page session: 204 with the cookies.
func handleSignIn(console bool, keys keyring, tokens tokenVerifier, ss sessions) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !sameOrigin(c) {
			fail(c, errCrossOrigin)
			return
		}
		var in signIn
		if err := decodeBody(c, &in); err != nil {
			fail(c, err)
			return
		}
		var s session
		if console {
			a, ok := keys[sha256.Sum256([]byte(in.Key))]
			switch {
			case in.Key == "":
				fail(c, engine.Invalid("key", "is required"))
				return
			case !ok:
				fail(c, errUnknownKey)
				return
			case !slices.Contains(consoleRoles, a.Role):
				fail(c, errNotConsole)
				return
			}
			s = session{Role: a.Role, KeyID: a.KeyID, Expires: time.Now().Add(consoleSessionTTL).Unix()}
		} else {
			if in.Token == "" {
				fail(c, engine.Invalid("token", "is required"))
				return
			}
			id, err := tokens.VerifyToken(in.Token)
			if err != nil {
				fail(c, err)
				return
			}
			s = session{Role: engine.RoleShopper, Subject: id, KeyID: "token", Expires: time.Now().Add(shopperSessionTTL).Unix()}
		}
		ss.set(c, s)
		c.Status(http.StatusNoContent)
	}
}

// handleSignOut ends the page session: POST /session/delete.
func handleSignOut(ss sessions) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !sameOrigin(c) {
			fail(c, errCrossOrigin)
			return
		}
		ss.clear(c)
		c.Status(http.StatusNoContent)
	}
}

// sessionInfo is GET /v1/session: who the caller is.
type sessionInfo struct {
	Role engine.Role   `json:"role"`
	User engine.UserID `json:"user_id,omitempty"` // for a shopper
}

func handleSessionInfo() gin.HandlerFunc {
	return func(c *gin.Context) {
		a, ok := actorOf(c)
		if !ok {
			fail(c, errors.New("api: no actor after authentication"))
			return
		}
		c.JSON(http.StatusOK, sessionInfo{Role: a.Role, User: a.Subject})
	}
}
