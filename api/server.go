package api

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"heed/campaigns"
	"heed/engine"
)

// Config configures the HTTP server. Zero values are usable where noted.
type Config struct {
	Service *engine.Service
	// Keys maps each API key to its role; keys with a role outside
	// engine.KeyRoles are ignored (and logged).
	Keys map[string]engine.Role
	Log  *slog.Logger // nil: discard
	// MaxBody bounds request bodies in bytes; zero: 1 MiB.
	MaxBody int64
	// Ready holds the named readiness checks /readyz runs ("badger",
	// "redis"); none: always ready.
	Ready map[string]func(context.Context) error
	// Registry receives heed's HTTP metrics and the Go and process
	// collectors, and is what /metrics serves; nil: a new one.
	Registry *prometheus.Registry
	// Trainer trains the recommender on demand; nil: POST
	// /v1/recommender/train answers 503.
	Trainer Trainer
	// Campaigns serves the /v1/campaigns routes; nil: they answer 503.
	Campaigns *campaigns.Service
	// Dispatch queues the planning of a run started by POST
	// /v1/campaigns/{id}/run; nil: nothing is queued (the planner picks
	// undispatched runs up later). Its error is logged, and the run still
	// answers 202.
	Dispatch func(ctx context.Context, job engine.PlanJob) error
	// Namespace is what heed worker processes name their queues by (the
	// store's instance id), told them by GET /v1/worker.
	Namespace string
	// SessionSecret signs the pages' session cookies (/me, /console);
	// empty: a random one, so sessions end with the process.
	SessionSecret []byte
}

// DefaultMaxBody bounds request bodies when Config.MaxBody is zero.
const DefaultMaxBody = 1 << 20

type server struct {
	cfg      Config
	doc      []byte // the OpenAPI document, set before serving
	keys     keyring
	sessions sessions
}

// NewServer returns heed's HTTP handler, a gin engine. The caller sets gin's
// mode (gin.SetMode) before calling it.
func NewServer(cfg Config) http.Handler {
	if cfg.Service == nil {
		panic("api: Config.Service is nil")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if len(cfg.SessionSecret) == 0 {
		cfg.SessionSecret = make([]byte, 32)
		rand.Read(cfg.SessionSecret)
	}
	sv := &server{cfg: cfg, keys: newKeyring(cfg.Keys, cfg.Log), sessions: sessions{secret: cfg.SessionSecret}}
	rs := sv.routes()
	doc, err := openAPI(rs)
	if err != nil {
		panic("api: " + err.Error()) // the table or schemas.json is wrong: a bug the tests catch
	}
	sv.doc = doc

	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.Use(withRequestID(), accessLog(cfg.Log), newHTTPMetrics(cfg.Registry).middleware(),
		problems(cfg.Log), recovery(cfg.Log), limitBody(cfg.MaxBody, streamed(rs)))
	r.NoRoute(unrouted(rs))
	r.NoMethod(unrouted(rs))

	auth := authenticate(sv.keys, cfg.Service, sv.sessions)
	for _, rt := range rs {
		if rt.action == "" && strings.HasPrefix(rt.path, "/v1/") {
			panic(fmt.Sprintf("api: %s %s has no authz action", rt.method, rt.path))
		}
		var chain []gin.HandlerFunc
		if rt.action != "" {
			chain = append(chain, auth, authorize(cfg.Service, rt.action, rt.owner))
		}
		r.Handle(rt.method, rt.path, append(chain, rt.handler)...)
	}
	return r
}

// unrouted answers a request no route serves: 405 with an Allow header if
// other methods serve the path, else 404. The table decides, not gin: gin's
// Allow header can list methods that do not route the path (it reuses
// backtracking state between method trees).
func unrouted(rs []route) gin.HandlerFunc {
	return func(c *gin.Context) {
		var allow []string
		for _, rt := range rs {
			if matchPath(rt.path, c.Request.URL.Path) && !slices.Contains(allow, rt.method) {
				allow = append(allow, rt.method)
			}
		}
		if len(allow) == 0 {
			c.Writer.Header().Del("Allow")
			c.Status(http.StatusNotFound)
			fail(c, errRouteNotFound)
			return
		}
		slices.Sort(allow)
		c.Header("Allow", strings.Join(allow, ", "))
		c.Status(http.StatusMethodNotAllowed)
		fail(c, errMethodNotAllowed)
	}
}

// matchPath reports whether a request path matches a gin route path made of
// literal and :param segments.
func matchPath(route, path string) bool {
	rs, ps := strings.Split(route, "/"), strings.Split(path, "/")
	if len(rs) != len(ps) {
		return false
	}
	for i, seg := range rs {
		if strings.HasPrefix(seg, ":") {
			if ps[i] == "" {
				return false
			}
		} else if seg != ps[i] {
			return false
		}
	}
	return true
}
