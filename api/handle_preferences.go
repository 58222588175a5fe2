package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

type preferencesGetter interface {
	Preferences(ctx context.Context, id engine.UserID) (engine.Preferences, error)
}

// handlePreferencesGet returns a user's preferences with their version as
// the ETag: GET /v1/users/:id/preferences.
func handlePreferencesGet(s preferencesGetter) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := s.Preferences(c.Request.Context(), userID(c))
		if err != nil {
			fail(c, err)
			return
		}
		writePreferences(c, p)
	}
}

type preferencesPutter interface {
	PutPreferences(ctx context.Context, id engine.UserID, p engine.Preferences, ifMatch int) (engine.Preferences, error)
}

// handlePreferencesPut replaces a user's preferences, if the version still
// matches If-Match when given: PUT /v1/users/:id/preferences.
func handlePreferencesPut(s preferencesPutter) gin.HandlerFunc {
	return func(c *gin.Context) {
		version, err := ifMatch(c)
		if err != nil {
			fail(c, err)
			return
		}
		var p engine.Preferences
		if err := decodeBody(c, &p); err != nil {
			fail(c, err)
			return
		}
		p, err = s.PutPreferences(c.Request.Context(), userID(c), p, version)
		if err != nil {
			fail(c, err)
			return
		}
		writePreferences(c, p)
	}
}

type preferencesPatcher interface {
	PatchPreferences(ctx context.Context, id engine.UserID, patch []byte, ifMatch int) (engine.Preferences, error)
}

// handlePreferencesPatch applies a JSON merge patch (RFC 7396) to a user's
// preferences: PATCH /v1/users/:id/preferences.
func handlePreferencesPatch(s preferencesPatcher) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := requireMediaType(c, "application/merge-patch+json", "application/json"); err != nil {
			fail(c, err)
			return
		}
		version, err := ifMatch(c)
		if err != nil {
			fail(c, err)
			return
		}
		patch, err := readBody(c)
		if err != nil {
			fail(c, err)
			return
		}
		p, err := s.PatchPreferences(c.Request.Context(), userID(c), patch, version)
		if err != nil {
			fail(c, err)
			return
		}
		writePreferences(c, p)
	}
}

func writePreferences(c *gin.Context, p engine.Preferences) {
	c.Header("ETag", etag(p.Version))
	c.JSON(http.StatusOK, p)
}
