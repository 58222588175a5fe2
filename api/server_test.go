package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"heed/api"
	"heed/campaigns"
	"heed/engine"
	"heed/engine/badgerstore"
	"heed/policies"
	"heed/recommend"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	code := m.Run()
	filtered := flag.Lookup("test.run").Value.String() != "" || flag.Lookup("test.skip").Value.String() != ""
	if code == 0 && !filtered && !testing.Short() {
		code = checkCoverage()
	}
	os.Exit(code)
}

// answered records every (method, path template, status) the tests saw,
// and lastDoc the OpenAPI document, for checkCoverage.
var (
	answered sync.Map
	lastDoc  atomic.Pointer[openAPIDoc]
)

// checkCoverage reports documented operations whose success response no
// test saw: every endpoint's happy path is tested.
func checkCoverage() int {
	doc := lastDoc.Load()
	if doc == nil {
		return 0
	}
	code := 0
	for p, ops := range doc.Paths {
		for m, op := range ops {
			for status := range op.Responses {
				if !strings.HasPrefix(status, "2") {
					continue
				}
				if _, ok := answered.Load(strings.ToUpper(m) + " " + p + " " + status); !ok {
					fmt.Fprintf(os.Stderr, "no test saw %s %s answer %s (%s)\n", strings.ToUpper(m), p, status, op.OperationID)
					code = 1
				}
			}
		}
	}
	return code
}

// The API keys every test server knows.
const (
	adminKey = "test-admin-key-0123456789abcdef"
	storeKey = "test-storefront-key-0123456789ab"
	merchKey = "test-merchandiser-key-0123456789"
)

var tokenSecret = []byte("test-token-secret")

// testMaxBody is the body limit of test servers.
const testMaxBody = 16 << 10

// A harness is a real heed API (Badger in memory, the embedded policies)
// behind an httptest server.
type harness struct {
	t       *testing.T
	url     string
	handler http.Handler
	svc     *engine.Service
	trainer *recommend.Trainer
	logs    *syncBuffer
	doc     *openAPIDoc
}

type harnessOptions struct {
	ready map[string]func(context.Context) error
	// dispatch is Config.Dispatch; noCampaigns leaves Config.Campaigns nil.
	dispatch    func(context.Context, engine.PlanJob) error
	noCampaigns bool
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, harnessOptions{}) }

func newHarnessWith(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db, err := badgerstore.Open(ctx, badgerstore.Options{InMemory: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pol, err := policies.New(ctx, policies.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	live := recommend.NewLive(recommend.NewCatalog())
	svc := engine.NewService(db, pol, engine.Options{
		Tokens:      engine.Tokens{Secret: tokenSecret},
		ProofKey:    []byte("test-proof-key"),
		Recommender: live,
	}, log)
	opts := recommend.DefaultOptions()
	opts.Factors, opts.Iterations = 8, 6
	tr := &recommend.Trainer{Events: svc.TrainingEvents, Items: db.ScanItems, Live: live, Options: opts, Log: log}
	ready := o.ready
	if ready == nil {
		ready = map[string]func(context.Context) error{"badger": db.Ping}
	}
	var camp *campaigns.Service
	if !o.noCampaigns {
		camp = campaigns.NewService(db, svc, pol, campaigns.Options{}, log)
	}
	h := api.NewServer(api.Config{
		Service:   svc,
		Keys:      map[string]engine.Role{adminKey: engine.RoleAdmin, storeKey: engine.RoleStorefront, merchKey: engine.RoleMerchandiser},
		Log:       log,
		MaxBody:   testMaxBody,
		Ready:     ready,
		Trainer:   api.TrainerOf(tr),
		Campaigns: camp,
		Dispatch:  o.dispatch,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	hs := &harness{t: t, url: srv.URL, handler: h, svc: svc, trainer: tr, logs: logs}
	hs.doc = loadOpenAPI(t, srv.URL)
	lastDoc.Store(hs.doc)
	return hs
}

// A response is what a request returned; its body was checked against the
// OpenAPI document.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, r.body)
	}
}

// A req describes a request. Body is sent as is if it is a string or
// []byte, as JSON otherwise.
type req struct {
	method, path string
	auth         string // bearer credential; "" for none
	body         any
	header       map[string]string
}

// do sends r and checks the response against the OpenAPI document.
func (h *harness) do(r req) response {
	h.t.Helper()
	var body io.Reader
	var ct string
	switch b := r.body.(type) {
	case nil:
	case string:
		body, ct = strings.NewReader(b), "application/json"
	case []byte:
		body, ct = bytes.NewReader(b), "application/json"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		body, ct = bytes.NewReader(raw), "application/json"
	}
	hr, err := http.NewRequest(r.method, h.url+r.path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	if r.auth != "" {
		hr.Header.Set("Authorization", "Bearer "+r.auth)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, body: raw}
	h.doc.check(h.t, r.method, hr.URL.EscapedPath(), out)
	return out
}

func (h *harness) get(path, auth string) response {
	h.t.Helper()
	return h.do(req{method: "GET", path: path, auth: auth})
}

// want fails unless r has the status code.
func want(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body:\n%s", r.status, status, r.body)
	}
}

// wantProblem fails unless r is a problem with the status whose errors name
// fields (in any order, possibly among others).
func wantProblem(t *testing.T, r response, status int, fields ...string) map[string]any {
	t.Helper()
	want(t, r, status)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	p := r.json(t)
	for _, k := range []string{"type", "title", "status", "instance", "errors"} {
		if _, ok := p[k]; !ok {
			t.Errorf("problem has no %q member: %s", k, r.body)
		}
	}
	if got := p["status"]; got != float64(status) {
		t.Errorf("problem status member %v, want %d", got, status)
	}
	if inst, _ := p["instance"].(string); !strings.HasPrefix(inst, "urn:req:") || strings.TrimPrefix(inst, "urn:req:") != r.header.Get("X-Request-Id") {
		t.Errorf("instance %q does not name the request id %q", inst, r.header.Get("X-Request-Id"))
	}
	named := map[string]bool{}
	for _, e := range p["errors"].([]any) {
		named[e.(map[string]any)["field"].(string)] = true
	}
	for _, f := range fields {
		if !named[f] {
			t.Errorf("problem does not name field %q: %s", f, r.body)
		}
	}
	return p
}

// problemType returns the type member's last path segment.
func problemType(p map[string]any) string {
	s, _ := p["type"].(string)
	return s[strings.LastIndex(s, "/")+1:]
}

// userPath returns /v1/users/{id} plus rest, with id escaped.
func userPath(id string, rest ...string) string {
	return "/v1/users/" + url.PathEscape(id) + strings.Join(rest, "")
}

// mustUser creates a user with the storefront key.
func (h *harness) mustUser(id string, profile map[string]any) {
	h.t.Helper()
	if profile == nil {
		profile = map[string]any{"region": "310000", "time_zone": "Asia/Shanghai"}
	}
	want(h.t, h.do(req{method: "PUT", path: userPath(id), auth: storeKey, body: profile}), http.StatusOK)
}

// mustToken issues a shopper token for id.
func (h *harness) mustToken(id string) string {
	h.t.Helper()
	r := h.do(req{method: "POST", path: userPath(id, "/token"), auth: storeKey})
	want(h.t, r, http.StatusCreated)
	var tok struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	r.decode(h.t, &tok)
	return tok.Token
}

// mustConsent records one batch and returns the stored records.
func (h *harness) mustConsent(id string, records ...map[string]any) []map[string]any {
	h.t.Helper()
	r := h.do(req{method: "POST", path: userPath(id, "/consents"), auth: storeKey, body: map[string]any{"records": records}})
	want(h.t, r, http.StatusCreated)
	var out struct {
		Records []map[string]any `json:"records"`
	}
	r.decode(h.t, &out)
	return out.Records
}

// history returns id's ledger.
func (h *harness) history(id string) []map[string]any {
	h.t.Helper()
	r := h.get(userPath(id, "/consents/history"), storeKey)
	want(h.t, r, http.StatusOK)
	var out struct {
		Records []map[string]any `json:"records"`
	}
	r.decode(h.t, &out)
	return out.Records
}

// activity returns the first page of id's usage log, read by admin.
func (h *harness) activity(id string) []map[string]any {
	h.t.Helper()
	r := h.get(userPath(id, "/activity?limit=200"), adminKey)
	want(h.t, r, http.StatusOK)
	var out struct {
		Entries []map[string]any `json:"entries"`
	}
	r.decode(h.t, &out)
	return out.Entries
}

// A syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
