package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

const (
	headerRequestID = "X-Request-Id"
	ctxRequestID    = "heed.request_id" // gin context key
)

// A caller-supplied request id is kept only if it looks like one.
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// withRequestID gives every request an id, the caller's X-Request-Id if it
// is sane, and echoes it in the response.
func withRequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(headerRequestID)
		if !requestIDRE.MatchString(id) {
			id = engine.NewID("req_")
		}
		c.Set(ctxRequestID, id)
		c.Header(headerRequestID, id)
		c.Next()
	}
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// routeLabel is the route template that matched, never the raw path (which
// holds user ids).
func routeLabel(c *gin.Context) string {
	if p := c.FullPath(); p != "" {
		return p
	}
	return "unmatched"
}

// accessLog logs one line per request, without personal data: the route
// template, not the path; the caller's role, not the shopper's id.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		attrs := []slog.Attr{
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request.Method),
			slog.String("route", routeLabel(c)),
			slog.Int("status", c.Writer.Status()),
			slog.Duration("duration", time.Since(start)),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
		}
		if a, ok := actorOf(c); ok {
			attrs = append(attrs, slog.String("role", string(a.Role)), slog.String("key_id", a.KeyID))
		}
		log.LogAttrs(c.Request.Context(), slog.LevelInfo, "http request", attrs...)
	}
}

// recovery turns a panic into a 500 problem (written by problems) and logs
// it with the stack.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler { // net/http documents this sentinel; re-panic so the server aborts the response
				panic(r)
			}
			log.ErrorContext(c.Request.Context(), "panic serving request", "request_id", requestID(c),
				"route", routeLabel(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			_ = c.Error(fmt.Errorf("panic: %v", r))
			c.Abort()
		}()
		c.Next()
	}
}

// limitBody caps request bodies at limit bytes; reading more fails with an
// *http.MaxBytesError, which readBody reports as errTooLarge (413). Routes
// in exempt ("METHOD /path") read their bodies as streams and are not capped.
func limitBody(limit int64, exempt map[string]bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if exempt[c.Request.Method+" "+c.FullPath()] {
			c.Next()
			return
		}
		if c.Request.ContentLength > limit {
			_ = c.Error(fmt.Errorf("%w: %d bytes; at most %d", errTooLarge, c.Request.ContentLength, limit))
			c.Abort()
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}

// streamed returns the "METHOD path" of every route whose body is a stream.
func streamed(rs []route) map[string]bool {
	m := make(map[string]bool)
	for _, rt := range rs {
		if rt.stream {
			m[rt.method+" "+rt.path] = true
		}
	}
	return m
}

// tooLarge reports whether err comes from reading past the body limit.
func tooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}
