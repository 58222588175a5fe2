package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

// defaultActivityPage is the page size when ?limit= is absent.
const defaultActivityPage = 50

type activityReader interface {
	Activity(ctx context.Context, id engine.UserID, cursor string, limit int) ([]engine.ActivityEntry, string, error)
}

type activityPage struct {
	Entries    []engine.ActivityEntry `json:"entries"`
	NextCursor string                 `json:"next_cursor"` // "" on the last page
}

// handleActivity returns one page of a user's usage log, newest first:
// GET /v1/users/:id/activity?cursor=&limit=.
func handleActivity(s activityReader) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit, err := queryInt(c, "limit", defaultActivityPage)
		if err != nil {
			fail(c, err)
			return
		}
		entries, next, err := s.Activity(c.Request.Context(), userID(c), c.Query("cursor"), limit)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, activityPage{Entries: orEmpty(entries), NextCursor: next})
	}
}
