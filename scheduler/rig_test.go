package scheduler_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"heed/campaigns"
	"heed/changes"
	"heed/engine"
	"heed/engine/badgerstore"
	"heed/internal/redistest"
	"heed/policies"
	"heed/recommend"
	"heed/scheduler"
	"heed/scheduler/webhook"
)

// A rig is heed's campaign pipeline on real components: Badger in a
// temporary directory, the shipped Rego policies, a real redis-server, and
// a webhook sink on loopback that every channel delivers to.
type rig struct {
	ctx   context.Context
	db    *badgerstore.DB
	pol   *policies.Set
	svc   *engine.Service
	camp  *campaigns.Service
	redis *redistest.Server
	sink  *sink
	log   *slog.Logger
}

var secret = []byte("test-webhook-secret-0123456789")

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := engine.SystemContext(context.Background())
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("HEED_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	db, err := badgerstore.Open(ctx, badgerstore.Options{Dir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pol, err := policies.New(ctx, policies.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{ctx: ctx, db: db, pol: pol, redis: redistest.Start(t), log: log}
	r.svc = engine.NewService(db, pol, engine.Options{Tokens: engine.Tokens{Secret: []byte("token-secret-0123456789")},
		Recommender: recommend.NewLive(recommend.NewCatalog()),
		Purchased:   func(ctx context.Context, ps []engine.Event) { r.camp.Attribute(ctx, ps) }}, log)
	r.camp = campaigns.NewService(db, r.svc, pol, campaigns.Options{ChunkSize: 50,
		UnsubscribeURL: func(d engine.Delivery) string { return "http://heed.test/unsubscribe/" + r.svc.UnsubscribeToken(d) },
		Recommender:    campaigns.ForYou{Source: r.svc}}, log)
	r.sink = newSink(t)
	return r
}

// scheduler returns a scheduler of the rig on its own Redis connection,
// running until the test ends (or stop is called).
func (r *rig) scheduler(t *testing.T, opts scheduler.Options) (s *scheduler.Scheduler, stop func()) {
	t.Helper()
	rdb := r.redis.Client(t)
	wh := webhook.New(webhook.Options{URL: r.sink.srv.URL, Secret: secret})
	if opts.Senders == nil {
		opts.Senders = map[engine.Channel]scheduler.Sender{}
		for _, ch := range engine.Channels {
			opts.Senders[ch] = wh
		}
	}
	if opts.PlanEvery == 0 {
		opts.PlanEvery = 200 * time.Millisecond
	}
	s = scheduler.New(rdb, r.camp, r.camp, r.db, opts, r.log)
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			t.Errorf("scheduler: %v", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			s.Close()
		})
	}
	t.Cleanup(stop)
	return s, stop
}

// user creates a user with a profile, marketing consent granted on the
// given channels and preferences (nil: the defaults).
func (r *rig) user(t *testing.T, id string, p engine.Profile, granted []engine.Channel, prefs *engine.Preferences) {
	t.Helper()
	if p.TimeZone == "" {
		p.TimeZone = "Asia/Shanghai"
	}
	if _, err := r.svc.PutUser(r.ctx, engine.UserID(id), p); err != nil {
		t.Fatal(err)
	}
	var recs []engine.ConsentRecord
	for _, ch := range granted {
		rec := engine.ConsentRecord{Purpose: engine.PurposeMarketing, Channel: ch, Status: engine.StatusGranted, Source: "test"}
		if p.Minor {
			rec.Actor, rec.Evidence = engine.ActorGuardian, json.RawMessage(`{"guardian": "parent"}`)
		}
		recs = append(recs, rec)
	}
	if len(recs) > 0 {
		if _, err := r.svc.RecordConsents(r.ctx, engine.UserID(id), recs); err != nil {
			t.Fatal(err)
		}
	}
	if prefs != nil {
		if _, err := r.svc.PutPreferences(r.ctx, engine.UserID(id), *prefs, engine.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *rig) withdraw(t *testing.T, id string, ch engine.Channel) {
	t.Helper()
	_, err := r.svc.RecordConsents(r.ctx, engine.UserID(id), []engine.ConsentRecord{
		{Purpose: engine.PurposeMarketing, Channel: ch, Status: engine.StatusWithdrawn, Source: "test"}})
	if err != nil {
		t.Fatal(err)
	}
}

// campaign creates and activates c (a segment discount on push and email
// unless c says otherwise).
func (r *rig) campaign(t *testing.T, c campaigns.Campaign) campaigns.Campaign {
	t.Helper()
	if c.Name == "" {
		c.Name = "test campaign"
	}
	if c.Kind == "" {
		c.Kind = campaigns.KindSegment
	}
	if c.Offer.Type == "" {
		c.Offer = campaigns.Offer{Type: campaigns.OfferDiscount, PercentOff: 15, Code: "SAVE15"}
	}
	if c.Channels == nil {
		c.Channels = []engine.Channel{engine.ChannelPush, engine.ChannelEmail}
	}
	if c.Schedule == (campaigns.Schedule{}) {
		c.Schedule.Cron = "0 10 * * *"
	}
	if c.Message.Title == "" {
		c.Message = campaigns.Message{Title: "{{.Offer}}", Body: "Hi {{.Name}}, {{.Offer}} with {{.Code}}"}
	}
	c, err := r.camp.Create(r.ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = r.camp.Transition(r.ctx, c.ID, campaigns.StatusActive); err != nil {
		t.Fatal(err)
	}
	return c
}

// deliveries returns campaign id's ledger.
func (r *rig) deliveries(t *testing.T, id string) map[engine.UserID]engine.Delivery {
	t.Helper()
	ds, _, err := r.db.Deliveries(r.ctx, id, "", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[engine.UserID]engine.Delivery{}
	for _, d := range ds {
		out[d.User] = d
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A sink receives webhook deliveries, checks their signatures and records
// them.
type sink struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []received
	// fail, if set, answers a delivery with its status instead of 200.
	fail func(received) int
}

type received struct {
	Key        string         `json:"idempotency_key"`
	DeliveryID string         `json:"delivery_id"`
	Campaign   string         `json:"campaign_id"`
	User       engine.UserID  `json:"user_id"`
	Channel    engine.Channel `json:"channel"`
	Message    struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	} `json:"message"`
	At time.Time `json:"-"`
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := changes.Verify(secret, req.Header.Get(changes.SignatureHeader), body, time.Minute, time.Now()); err != nil {
			t.Errorf("sink: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m received
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("sink: %v", err)
		}
		m.At = time.Now()
		if req.Header.Get("Idempotency-Key") != m.Key {
			t.Errorf("sink: Idempotency-Key header %q, body %q", req.Header.Get("Idempotency-Key"), m.Key)
		}
		s.mu.Lock()
		fail := s.fail
		s.mu.Unlock()
		if fail != nil {
			if code := fail(m); code != 0 {
				w.WriteHeader(code)
				return
			}
		}
		s.mu.Lock()
		s.got = append(s.got, m)
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}
