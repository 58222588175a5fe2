package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

type userPutter interface {
	PutUser(ctx context.Context, id engine.UserID, p engine.Profile) (engine.User, error)
}

// handleUserPut creates or updates a user's profile: PUT /v1/users/:id.
func handleUserPut(s userPutter) gin.HandlerFunc {
	return func(c *gin.Context) {
		var p engine.Profile
		if err := decodeBody(c, &p); err != nil {
			fail(c, err)
			return
		}
		u, err := s.PutUser(c.Request.Context(), userID(c), p)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, u)
	}
}

type userGetter interface {
	User(ctx context.Context, id engine.UserID) (engine.User, error)
}

// handleUserGet returns a user: GET /v1/users/:id.
func handleUserGet(s userGetter) gin.HandlerFunc {
	return func(c *gin.Context) {
		u, err := s.User(c.Request.Context(), userID(c))
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, u)
	}
}

type userEraser interface {
	Erase(ctx context.Context, id engine.UserID) (engine.ErasureProof, error)
}

// handleUserErase erases a user, keeping only the proof of consent:
// DELETE /v1/users/:id.
func handleUserErase(s userEraser) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, err := s.Erase(c.Request.Context(), userID(c)); err != nil {
			fail(c, err)
			return
		}
		noContent(c)
	}
}

type userExporter interface {
	Export(ctx context.Context, id engine.UserID) (engine.Export, error)
}

// handleUserExport returns everything held about a user:
// GET /v1/users/:id/export.
func handleUserExport(s userExporter) gin.HandlerFunc {
	return func(c *gin.Context) {
		x, err := s.Export(c.Request.Context(), userID(c))
		if err != nil {
			fail(c, err)
			return
		}
		x.Consents = orEmpty(x.Consents)
		x.Effective = orEmpty(x.Effective)
		x.Activity = orEmpty(x.Activity)
		x.Interests.Tags = orEmpty(x.Interests.Tags)
		x.Interests.Deleted = orEmpty(x.Interests.Deleted)
		c.JSON(http.StatusOK, x)
	}
}

// orEmpty returns s, or an empty slice for nil, so lists marshal as [].
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
