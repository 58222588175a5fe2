package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

// The pages (/me, /console) call the API with a session cookie instead of
// an Authorization header: the credential a shopper or merchandiser signed
// in with is turned into a signed session, kept in an HttpOnly cookie that
// page scripts cannot read, so the token or key never sits in a URL,
// script or storage after sign-in.
//
// Every request authenticated by the cookie that can change something
// (any method but GET, HEAD, OPTIONS) must carry the session's CSRF token
// in the X-CSRF-Token header: the token is in a second cookie that the
// page's own script reads and another site cannot (double submit), and
// both cookies are SameSite=Strict.
const (
	sessionCookie = "heed_session"
	csrfCookie    = "heed_csrf"
	csrfHeader    = "X-CSRF-Token"
	sessionPrefix = "hss_"
	// consoleSessionTTL bounds a console session; a shopper's session
	// ends with the shopper token it came from.
	consoleSessionTTL = 12 * time.Hour
)

var (
	errBadSession = fmt.Errorf("the session is not valid or has expired; sign in again: %w", engine.ErrBadToken)
	errCSRF       = fmt.Errorf("%w: the request lacks the page's CSRF token (X-CSRF-Token)", engine.ErrForbidden)
)

// A session is what a session cookie carries.
type session struct {
	Role    engine.Role   `json:"r"`
	Subject engine.UserID `json:"s,omitempty"` // shoppers
	KeyID   string        `json:"k,omitempty"`
	Expires int64         `json:"e"` // Unix seconds
}

// sessions signs and verifies session cookies.
type sessions struct{ secret []byte }

func (s sessions) mac(domain, payload string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(domain + "\n" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue returns the cookie value of ss and its CSRF token.
func (s sessions) issue(ss session) (value, csrf string) {
	raw, _ := json.Marshal(ss)
	payload := base64.RawURLEncoding.EncodeToString(raw)
	value = sessionPrefix + payload + "." + s.mac("heed-session", payload)
	return value, s.mac("heed-csrf", value)
}

// verify returns the session a cookie value carries, if it is ours and
// current.
func (s sessions) verify(value string, now time.Time) (session, bool) {
	rest, ok := strings.CutPrefix(value, sessionPrefix)
	if !ok {
		return session{}, false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.mac("heed-session", payload))) {
		return session{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	var ss session
	if err != nil || json.Unmarshal(raw, &ss) != nil || now.Unix() >= ss.Expires {
		return session{}, false
	}
	return ss, true
}

// checkCSRF reports whether header carries the CSRF token of the session
// cookie value.
func (s sessions) checkCSRF(value, header string) bool {
	return header != "" && hmac.Equal([]byte(header), []byte(s.mac("heed-csrf", value)))
}

// setSession sets the session and CSRF cookies for ss.
func (s sessions) set(c *gin.Context, ss session) {
	value, csrf := s.issue(ss)
	maxAge := int(time.Until(time.Unix(ss.Expires, 0)).Seconds())
	secure := c.Request.TLS != nil
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(c.Writer, &http.Cookie{Name: csrfCookie, Value: csrf, Path: "/", MaxAge: maxAge,
		Secure: secure, SameSite: http.SameSiteStrictMode})
}

// clear removes both cookies.
func (sessions) clear(c *gin.Context) {
	for _, name := range []string{sessionCookie, csrfCookie} {
		http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: name == sessionCookie, SameSite: http.SameSiteStrictMode})
	}
}

// fromCookie resolves the caller of a request that has no Authorization
// header from its session cookie; ok is false when there is none.
func (s sessions) fromCookie(c *gin.Context) (engine.Actor, bool, error) {
	value, err := c.Cookie(sessionCookie)
	if err != nil || value == "" {
		return engine.Actor{}, false, nil
	}
	ss, ok := s.verify(value, time.Now())
	if !ok {
		return engine.Actor{}, true, errBadSession
	}
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if !s.checkCSRF(value, c.GetHeader(csrfHeader)) {
			return engine.Actor{}, true, errCSRF
		}
	}
	return engine.Actor{Role: ss.Role, Subject: ss.Subject, KeyID: ss.KeyID}, true, nil
}
