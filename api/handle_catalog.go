package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

type itemBatch struct {
	Items []engine.Item `json:"items"`
}

type upserted struct {
	Upserted int `json:"upserted"`
}

type eventBatch struct {
	Events []engine.Event `json:"events"`
}

type itemPutter interface {
	PutItems(ctx context.Context, items []engine.Item) (int, error)
}

// handleItemsPut upserts a batch of catalog items, all or none: PUT /v1/items.
func handleItemsPut(s itemPutter) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in itemBatch
		if err := decodeBody(c, &in); err != nil {
			fail(c, err)
			return
		}
		n, err := s.PutItems(c.Request.Context(), in.Items)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, upserted{n})
	}
}

type eventRecorder interface {
	RecordEvents(ctx context.Context, events []engine.Event) (engine.EventResult, error)
}

// handleEventsPost records a batch of events: POST /v1/events. A bad event
// fails the whole batch; an event the collect policy refuses is dropped
// and reported.
func handleEventsPost(s eventRecorder) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in eventBatch
		if err := decodeBody(c, &in); err != nil {
			fail(c, err)
			return
		}
		res, err := s.RecordEvents(c.Request.Context(), in.Events)
		if err != nil {
			fail(c, err)
			return
		}
		res.Dropped = orEmpty(res.Dropped)
		c.JSON(http.StatusOK, res)
	}
}

type eventImporter interface {
	ImportEvents(ctx context.Context, r io.Reader, format string, progress func(lines int)) (engine.ImportResult, error)
}

// handleEventsImport streams NDJSON or CSV events in: POST /v1/import/events.
// The body is not bound by the request size limit; it is read line by line.
func handleEventsImport(s eventImporter) gin.HandlerFunc {
	return func(c *gin.Context) {
		format := "ndjson"
		switch mediaType(c) {
		case "text/csv":
			format = "csv"
		case "application/x-ndjson", "application/jsonl", "":
		default:
			fail(c, errMediaType)
			return
		}
		var body io.Reader = c.Request.Body
		if body == nil {
			body = strings.NewReader("")
		}
		res, err := s.ImportEvents(c.Request.Context(), body, format, nil)
		if err != nil && res.Accepted > 0 {
			// The batches before the bad line are stored: say so, so that
			// the import can resume after line res.Lines.
			err = fmt.Errorf("%d events through line %d were stored before this error; %w", res.Accepted, res.Lines, err)
		}
		if err != nil {
			fail(c, err)
			return
		}
		res.Dropped = orEmpty(res.Dropped)
		c.JSON(http.StatusOK, res)
	}
}
