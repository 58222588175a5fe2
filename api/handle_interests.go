package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

type interestLister interface {
	Interests(ctx context.Context, id engine.UserID) (engine.Interests, error)
}

// handleInterestList returns a user's interest tags and the tags the user
// deleted: GET /v1/users/:id/interests.
func handleInterestList(s interestLister) gin.HandlerFunc {
	return func(c *gin.Context) {
		in, err := s.Interests(c.Request.Context(), userID(c))
		if err != nil {
			fail(c, err)
			return
		}
		in.Tags, in.Deleted = orEmpty(in.Tags), orEmpty(in.Deleted)
		c.JSON(http.StatusOK, in)
	}
}

type interestDeleter interface {
	DeleteInterest(ctx context.Context, id engine.UserID, tag string) error
}

// handleInterestDelete deletes an interest tag for good:
// DELETE /v1/users/:id/interests/:tag.
func handleInterestDelete(s interestDeleter) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.DeleteInterest(c.Request.Context(), userID(c), c.Param("tag")); err != nil {
			fail(c, err)
			return
		}
		noContent(c)
	}
}
