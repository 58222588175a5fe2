package api

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyTimeout bounds each readiness check.
const readyTimeout = 2 * time.Second

// handleHealth reports that the process serves: GET /healthz.
func handleHealth() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	}
}

// handleReady runs every readiness check concurrently, each within
// readyTimeout: GET /readyz. A failed check is a 503 problem naming it; its
// error is logged, not shown.
func handleReady(checks map[string]func(context.Context) error, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		results := make(map[string]string, len(checks))
		rid := requestID(c)
		var (
			mu     sync.Mutex
			wg     sync.WaitGroup
			failed []string
		)
		for name, check := range checks {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
				defer cancel()
				err := check(ctx)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					results[name] = "ok"
					return
				}
				results[name] = "failed"
				if ctx.Err() != nil {
					results[name] = "timed out"
				}
				failed = append(failed, name)
				log.Warn("readiness check failed", "check", name, "request_id", rid, "err", err)
			})
		}
		wg.Wait()
		if len(failed) > 0 {
			slices.Sort(failed)
			fail(c, &checksError{failed: failed, checks: results})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": results})
	}
}

// handleMetrics serves reg in the Prometheus exposition format: GET /metrics.
func handleMetrics(reg *prometheus.Registry) gin.HandlerFunc {
	return gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
}

// handleOpenAPI serves the generated OpenAPI document: GET /openapi.json.
// doc is called per request: the document is generated from the routes
// table, which this handler is part of.
func handleOpenAPI(doc func() []byte) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", doc())
	}
}
