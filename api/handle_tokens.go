package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

type tokenIssuer interface {
	IssueToken(ctx context.Context, id engine.UserID) (string, time.Time, error)
}

type tokenResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleTokenIssue issues a shopper token for a user, to the storefront's
// backend: POST /v1/users/:id/token.
func handleTokenIssue(s tokenIssuer) gin.HandlerFunc {
	return func(c *gin.Context) {
		tok, exp, err := s.IssueToken(c.Request.Context(), userID(c))
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, tokenResponse{Token: tok, ExpiresAt: exp})
	}
}
