package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

type identityAdder interface {
	AddIdentity(ctx context.Context, id engine.UserID, ident engine.Identity, merge bool) (engine.User, error)
}

type identityInput struct {
	Type  engine.IdentityType `json:"type"`
	Value string              `json:"value"`
	Merge bool                `json:"merge"`
}

// handleIdentityAdd links an identity to a user, merging the user who held
// it when asked to: POST /v1/users/:id/identities.
func handleIdentityAdd(s identityAdder) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in identityInput
		if err := decodeBody(c, &in); err != nil {
			fail(c, err)
			return
		}
		u, err := s.AddIdentity(c.Request.Context(), userID(c), engine.Identity{Type: in.Type, Value: in.Value}, in.Merge)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, u)
	}
}

type identityResolver interface {
	ResolveIdentity(ctx context.Context, ident engine.Identity) (engine.UserID, error)
}

// handleIdentityResolve returns the user holding an identity:
// GET /v1/identities/:type/:value.
func handleIdentityResolve(s identityResolver) gin.HandlerFunc {
	return func(c *gin.Context) {
		ident := engine.Identity{Type: engine.IdentityType(c.Param("type")), Value: c.Param("value")}
		id, err := s.ResolveIdentity(c.Request.Context(), ident)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"user_id": id})
	}
}
