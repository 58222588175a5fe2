package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

type noticePublisher interface {
	PublishNotice(ctx context.Context, n engine.Notice) (engine.Notice, error)
}

type noticeInput struct {
	Version           string `json:"version"`
	TextURL           string `json:"text_url"`
	RequiresReconsent bool   `json:"requires_reconsent"`
}

// handleNoticePublish publishes a privacy-notice version for a purpose:
// PUT /v1/notices/:purpose.
func handleNoticePublish(s noticePublisher) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in noticeInput
		if err := decodeBody(c, &in); err != nil {
			fail(c, err)
			return
		}
		n, err := s.PublishNotice(c.Request.Context(), engine.Notice{Purpose: engine.Purpose(c.Param("purpose")),
			Version: in.Version, TextURL: in.TextURL, RequiresReconsent: in.RequiresReconsent})
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, n)
	}
}

type noticeLister interface {
	Notices(ctx context.Context) ([]engine.Notice, error)
}

// handleNoticeList lists every published notice: GET /v1/notices.
func handleNoticeList(s noticeLister) gin.HandlerFunc {
	return func(c *gin.Context) {
		ns, err := s.Notices(c.Request.Context())
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"notices": orEmpty(ns)})
	}
}
