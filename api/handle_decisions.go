package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

type policyQuerier interface {
	Query(ctx context.Context, path string, input any) (any, engine.Decision, error)
}

type decisionQuery struct {
	Path  string `json:"path"`
	Input any    `json:"input"`
}

// handleDecisionQuery evaluates any policy rule and logs the decision:
// POST /v1/decisions.
func handleDecisionQuery(s policyQuerier) gin.HandlerFunc {
	return func(c *gin.Context) {
		var q decisionQuery
		if err := decodeBody(c, &q); err != nil {
			fail(c, err)
			return
		}
		if q.Path == "" {
			fail(c, engine.Invalid("path", "is required, e.g. \"heed/authz/allow\""))
			return
		}
		res, d, err := s.Query(c.Request.Context(), q.Path, q.Input)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"result": res, "decision_id": d.ID})
	}
}

type decisionGetter interface {
	Decision(ctx context.Context, id string) (engine.Decision, error)
}

// handleDecisionGet returns a logged decision: GET /v1/decisions/:id.
func handleDecisionGet(s decisionGetter) gin.HandlerFunc {
	return func(c *gin.Context) {
		d, err := s.Decision(c.Request.Context(), c.Param("id"))
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, d)
	}
}
