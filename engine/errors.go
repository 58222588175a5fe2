package engine

import (
	"errors"
	"fmt"
	"strings"
)

// Error kinds. Callers test them with errors.Is; the HTTP layer maps each to
// one status code.
var (
	ErrNotFound     = errors.New("not found")
	ErrInvalid      = errors.New("invalid")
	ErrConflict     = errors.New("conflict")      // duplicate or clashing write
	ErrStale        = errors.New("stale version") // If-Match did not match
	ErrNoConsent    = errors.New("no consent")    // consent missing or withdrawn
	ErrForbidden    = errors.New("forbidden")     // caller lacks permission
	ErrUnavailable  = errors.New("unavailable")   // a dependency is down
	ErrPolicyReject = errors.New("policy rejected")
)

// A FieldProblem names one bad field of the input, in JSON-path-like form
// ("records[2].channel").
type FieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// A ValidationError lists field problems in input order; errors.Is(err,
// ErrInvalid) holds.
type ValidationError struct{ Problems []FieldProblem }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

func (e *ValidationError) Unwrap() error { return ErrInvalid }

// problems collects field problems while validating.
type problems []FieldProblem

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Problems: p}
}

// Invalid returns a ValidationError for one field.
func Invalid(field, format string, args ...any) error {
	var p problems
	p.add(field, format, args...)
	return p.err()
}

// A DeniedError reports a policy denial; errors.Is(err, ErrForbidden) holds.
// DecisionID names the logged decision so the caller can quote it.
type DeniedError struct {
	DecisionID string
	Reasons    []string
}

func (e *DeniedError) Error() string {
	if len(e.Reasons) == 0 {
		return "denied by policy (decision " + e.DecisionID + ")"
	}
	return "denied by policy (decision " + e.DecisionID + "): " + strings.Join(e.Reasons, "; ")
}

func (e *DeniedError) Unwrap() error { return ErrForbidden }

// A PolicyError reports a policy set that failed to compile or whose Rego
// tests failed; errors.Is(err, ErrPolicyReject) holds.
type PolicyError struct{ Errors []string }

func (e *PolicyError) Error() string {
	return "policy rejected: " + strings.Join(e.Errors, "; ")
}

func (e *PolicyError) Unwrap() error { return ErrPolicyReject }

// WithoutUser returns err with id's text replaced by "<user>", for logs,
// which carry no shopper's id: store errors name the user they are about.
// The result keeps err's message only, not its chain.
func WithoutUser(err error, id UserID) error {
	if err == nil || id == "" || !strings.Contains(err.Error(), string(id)) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), string(id), "<user>"))
}
