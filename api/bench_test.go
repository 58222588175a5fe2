package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"heed/api"
	"heed/data/onlineretail"
	"heed/engine"
	"heed/engine/badgerstore"
	"heed/policies"
	"heed/recommend"
)

// benchServer is the real handler over a Badger store in dir ("" = memory),
// with users b0..b(n-1) holding a few consent records each.
func benchServer(b *testing.B, dir string, users int) http.Handler {
	b.Helper()
	db, pol, log := benchStore(b, dir)
	svc := engine.NewService(db, pol, engine.Options{Tokens: engine.Tokens{Secret: tokenSecret}}, log)
	h := api.NewServer(api.Config{Service: svc, Keys: map[string]engine.Role{storeKey: engine.RoleStorefront}, Log: log})
	for u := range users {
		benchDo(b, h, "PUT", fmt.Sprintf("/v1/users/b%d", u), `{}`, 200)
		benchDo(b, h, "POST", fmt.Sprintf("/v1/users/b%d/consents", u), `{"records":[
			{"purpose":"marketing","status":"granted"},
			{"purpose":"marketing","channel":"email","touchpoint":"app","status":"withdrawn"},
			{"purpose":"marketing","channel":"sms","status":"granted"},
			{"purpose":"personalization","status":"granted"},
			{"purpose":"personalization","signal":"browsing","status":"withdrawn"},
			{"purpose":"marketing","channel":"push","status":"denied"}]}`, 201)
	}
	return h
}

// benchStore opens a Badger store in dir ("" = memory), closed when b ends,
// and the shipped policies, with a logger that drops all but warnings.
func benchStore(b *testing.B, dir string) (*badgerstore.DB, *policies.Set, *slog.Logger) {
	b.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := badgerstore.Open(ctx, badgerstore.Options{Dir: dir, InMemory: dir == ""}, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	pol, err := policies.New(ctx, policies.Options{}, log)
	if err != nil {
		b.Fatal(err)
	}
	return db, pol, log
}

func benchDo(b *testing.B, h http.Handler, method, path, body string, want int) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+storeKey)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s = %d: %s", method, path, rec.Code, rec.Body)
	}
}

// BenchmarkHTTPHealthz is the baseline: the handler stack without a store
// read or a policy decision.
func BenchmarkHTTPHealthz(b *testing.B) {
	h := benchServer(b, "", 0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchDo(b, h, "GET", "/healthz", "", 200)
		}
	})
}

// BenchmarkHTTPConsentCheck is GET /consents/check in-process: auth, the
// authz decision, two store reads, the consent decision, both logged.
func BenchmarkHTTPConsentCheck(b *testing.B) {
	const users = 1000
	h := benchServer(b, "", users)
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			benchDo(b, h, "GET", fmt.Sprintf("/v1/users/b%d/consents/check?purpose=marketing&channel=email&touchpoint=app", i%users), "", 200)
		}
	})
}

// BenchmarkHTTPConsentWrite is POST /consents with one record, on disk
// (synced), from 32 concurrent writers.
func BenchmarkHTTPConsentWrite(b *testing.B) {
	const users = 1000
	h := benchServer(b, b.TempDir(), users)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16) // 32 writers on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			benchDo(b, h, "POST", fmt.Sprintf("/v1/users/b%d/consents", i%users),
				`{"records":[{"purpose":"marketing","channel":"email","status":"granted"}]}`, 201)
		}
	})
}

// benchService is the real Service (Badger in memory, the embedded
// policies) with users b0..b(n-1) holding six consent records each.
func benchService(b *testing.B, users int) (*engine.Service, *badgerstore.DB) {
	b.Helper()
	ctx := engine.WithActor(context.Background(), engine.Actor{Role: engine.RoleStorefront})
	db, pol, log := benchStore(b, "")
	svc := engine.NewService(db, pol, engine.Options{}, log)
	for u := range users {
		id := engine.UserID(fmt.Sprintf("b%d", u))
		if _, err := svc.PutUser(ctx, id, engine.Profile{}); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.RecordConsents(ctx, id, []engine.ConsentRecord{
			{Purpose: "marketing", Status: "granted"},
			{Purpose: "marketing", Channel: "email", Touchpoint: "app", Status: "withdrawn"},
			{Purpose: "marketing", Channel: "sms", Status: "granted"},
			{Purpose: "personalization", Status: "granted"},
			{Purpose: "marketing", Channel: "push", Status: "denied"},
			{Purpose: "marketing", Channel: "email", Status: "granted"},
		}); err != nil {
			b.Fatal(err)
		}
	}
	return svc, db
}

var benchQuestion = engine.Scope{Purpose: "marketing", Channel: "email", Touchpoint: "web"}

// BenchmarkServiceConsentCheck is a consent check in-process: the store
// read and the Rego decision (logged), without HTTP.
func BenchmarkServiceConsentCheck(b *testing.B) {
	const users = 1000
	svc, _ := benchService(b, users)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, _, err := svc.CheckConsent(ctx, engine.UserID(fmt.Sprintf("b%d", i%users)), benchQuestion); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreReadFold is the hand-written baseline of
// BenchmarkServiceConsentCheck: the same store read, then engine.Fold.
func BenchmarkStoreReadFold(b *testing.B) {
	const users = 1000
	_, db := benchService(b, users)
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		subj, recs, err := db.ConsentSubject(ctx, engine.UserID(fmt.Sprintf("b%d", i%users)), benchQuestion.Purpose)
		if err != nil {
			b.Fatal(err)
		}
		if !engine.Fold(recs, benchQuestion, subj, engine.NoticeRule{}, now).Allowed {
			b.Fatal("not allowed") // the six records grant email on the web
		}
	}
}

// BenchmarkServiceRecommend is GET /v1/users/{id}/recommendations without
// HTTP: the heed demo's shop (the Online Retail items, customers, consents
// and purchases, a trained model) over Badger and the shipped policies, and
// for_you for the customers in turn: store reads, the 6-signal consent
// decision (logged), the history read, the recommender and the usage-log
// entry.
func BenchmarkServiceRecommend(b *testing.B) {
	ctx := context.Background()
	db, pol, log := benchStore(b, b.TempDir())
	live := recommend.NewLive(recommend.NewCatalog())
	svc := engine.NewService(db, pol, engine.Options{Tokens: engine.Tokens{Secret: tokenSecret}, Recommender: live}, log)
	d, err := onlineretail.Load()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.PutItems(ctx, d.Items()); err != nil {
		b.Fatal(err)
	}
	var ids []engine.UserID
	for i, cu := range d.Customers() {
		id := onlineretail.UserID(cu.ID)
		ids = append(ids, id)
		if _, err := svc.PutUser(ctx, id, engine.Profile{Region: cu.Country, TimeZone: onlineretail.Zone}); err != nil {
			b.Fatal(err)
		}
		if i%10 == 9 { // as heed demo: one customer in ten grants nothing
			continue
		}
		if _, err := svc.RecordConsents(ctx, id, []engine.ConsentRecord{
			{Purpose: engine.PurposePersonalization, Status: engine.StatusGranted},
			{Purpose: engine.PurposeMarketing, Channel: engine.ChannelEmail, Status: engine.StatusGranted}}); err != nil {
			b.Fatal(err)
		}
	}
	events := d.Events()
	for i := 0; i < len(events); i += 500 {
		if _, err := svc.RecordEvents(ctx, events[i:min(i+500, len(events))]); err != nil {
			b.Fatal(err)
		}
	}
	tr := &recommend.Trainer{Items: db.ScanItems, Events: svc.TrainingEvents, Live: live,
		Path: filepath.Join(b.TempDir(), "model.snap"), Options: recommend.DefaultOptions(), Log: log}
	if _, err := tr.Train(ctx); err != nil {
		b.Fatal(err)
	}
	q := engine.RecQuery{Strategy: engine.StrategyForYou, Limit: 10}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := svc.Recommend(ctx, ids[i%len(ids)], q); err != nil {
				b.Fatal(err)
			}
		}
	})
	// 64 requests in flight, as wrk's 64 connections.
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := svc.Recommend(ctx, ids[int(n.Add(1))%len(ids)], q); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
