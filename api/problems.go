package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

// problemBase prefixes every problem type URI.
const problemBase = "https://heed.dev/problems/"

// Errors of the HTTP layer itself; engine's kinds cover the rest.
var (
	errNoCredentials    = errors.New("no credentials: send Authorization: Bearer <API key or shopper token>")
	errUnknownKey       = errors.New("unknown API key")
	errRouteNotFound    = errors.New("no route matches this path")
	errMethodNotAllowed = errors.New("this method is not allowed on this resource")
	errTooLarge         = errors.New("request body too large")
	errMediaType        = errors.New("unsupported media type")
	errNotReady         = errors.New("not ready")
)

// A kind maps an error kind to its status, type and title.
type kind struct {
	err    error
	status int
	slug   string // the type URI is problemBase + slug
	title  string
}

// kinds is the one table from error kind to problem; the first match wins.
var kinds = []kind{
	{engine.ErrInvalid, http.StatusBadRequest, "invalid", "Invalid input"},
	{errNoCredentials, http.StatusUnauthorized, "unauthenticated", "Authentication required"},
	{errUnknownKey, http.StatusUnauthorized, "unauthenticated", "Authentication required"},
	{engine.ErrBadToken, http.StatusUnauthorized, "unauthenticated", "Authentication required"},
	{engine.ErrForbidden, http.StatusForbidden, "forbidden", "Forbidden"},
	{engine.ErrNotFound, http.StatusNotFound, "not-found", "Not found"},
	{errRouteNotFound, http.StatusNotFound, "not-found", "Not found"},
	{errMethodNotAllowed, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed"},
	{engine.ErrConflict, http.StatusConflict, "conflict", "Conflict"},
	{engine.ErrNoConsent, http.StatusConflict, "consent-required", "Consent required"},
	{engine.ErrStale, http.StatusPreconditionFailed, "stale", "Version mismatch"},
	{errTooLarge, http.StatusRequestEntityTooLarge, "too-large", "Request body too large"},
	{errMediaType, http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type"},
	{engine.ErrPolicyReject, http.StatusUnprocessableEntity, "policy-rejected", "Policy rejected"},
	{engine.ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
	{errNotReady, http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
}

// A problem is an RFC 9457 problem document.
type problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"` // only for known kinds
	Instance string       `json:"instance"`         // the request id, as "urn:req:<id>"
	Errors   []fieldError `json:"errors"`           // [{"field", "message"}], possibly empty

	// Extension members.
	DecisionID        string            `json:"decision_id,omitempty"`         // a policy denial
	ConflictingUserID engine.UserID     `json:"conflicting_user_id,omitempty"` // an identity conflict
	Checks            map[string]string `json:"checks,omitempty"`              // a failed readiness check
}

type fieldError = engine.FieldProblem

// A checksError reports failed readiness checks; it is errNotReady.
type checksError struct {
	failed []string
	checks map[string]string
}

func (e *checksError) Error() string { return fmt.Sprintf("readiness checks failed: %v", e.failed) }
func (e *checksError) Unwrap() error { return errNotReady }

// loggable is err as a log line may carry it: on a shopper's routes
// (/v1/users/:id, the only ones with an owner), without the shopper's id.
func loggable(c *gin.Context, err error) error {
	if strings.HasPrefix(c.FullPath(), "/v1/users/:id") {
		return engine.WithoutUser(err, engine.UserID(c.Param("id")))
	}
	return err
}

// problems writes the last error a handler recorded with c.Error as problem
// JSON, unless the handler already wrote a response.
func problems(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		last := c.Errors.Last()
		if last == nil || c.Writer.Written() {
			return
		}
		p := problemFor(last.Err)
		p.Instance = "urn:req:" + requestID(c)
		switch {
		case p.Status == http.StatusInternalServerError && c.Request.Context().Err() != nil:
			// The client went away; nobody reads the answer and nothing failed.
			log.DebugContext(c.Request.Context(), "request cancelled by the client", "request_id", requestID(c),
				"route", routeLabel(c))
		case p.Status == http.StatusInternalServerError:
			log.ErrorContext(c.Request.Context(), "request failed", "request_id", requestID(c),
				"route", routeLabel(c), "err", loggable(c, last.Err))
		}
		if p.Status == http.StatusUnauthorized {
			challenge := `Bearer realm="heed"`
			if !errors.Is(last.Err, errNoCredentials) {
				challenge += `, error="invalid_token"`
			}
			c.Header("WWW-Authenticate", challenge)
		}
		writeProblem(c, p)
	}
}

func writeProblem(c *gin.Context, p problem) {
	body, err := json.Marshal(p)
	if err != nil { // our own types: cannot happen
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	c.Data(p.Status, "application/problem+json", body)
}

// problemFor finds err's kind in the table; an unknown error is a 500 whose
// text never reaches the client.
func problemFor(err error) problem {
	p := problem{Type: "about:blank", Title: "Internal Server Error", Status: http.StatusInternalServerError, Errors: []fieldError{}}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			p.Type, p.Title, p.Status, p.Detail = problemBase+k.slug, k.title, k.status, err.Error()
			break
		}
	}
	if p.Status == http.StatusInternalServerError {
		return p
	}
	var (
		verr     *engine.ValidationError
		denied   *engine.DeniedError
		conflict *engine.IdentityConflict
		perr     *engine.PolicyError
		checks   *checksError
	)
	switch {
	case errors.As(err, &verr):
		p.Errors = append(p.Errors, verr.Problems...)
	case errors.As(err, &denied):
		p.DecisionID = denied.DecisionID
	case errors.As(err, &conflict):
		p.ConflictingUserID = conflict.Owner
		p.Detail = "the identity belongs to another user; send \"merge\": true to merge that user into this one"
	case errors.As(err, &perr):
		for _, e := range perr.Errors {
			p.Errors = append(p.Errors, fieldError{Field: "body", Message: e})
		}
	case errors.As(err, &checks):
		p.Checks = checks.checks
	}
	return p
}
