package api

import (
	"context"
	"net/http"
	"strconv"

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

type recentDecider interface {
	RecentDecisions(ctx context.Context, limit int) ([]engine.Decision, error)
}

// handleDecisionList answers the newest logged decisions: GET
// /v1/decisions?limit= (admin).
func handleDecisionList(s recentDecider) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := 50
		if v := c.Query("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				fail(c, engine.Invalid("limit", "%q is not a number", v))
				return
			}
			limit = n
		}
		ds, err := s.RecentDecisions(c.Request.Context(), limit)
		if err != nil {
			fail(c, err)
			return
		}
		if ds == nil {
			ds = []engine.Decision{}
		}
		c.JSON(http.StatusOK, gin.H{"decisions": ds})
	}
}
