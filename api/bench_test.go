package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"heed/api"
	"heed/engine"
	"heed/engine/badgerstore"
	"heed/policies"
)

// benchServer is the real handler over a Badger store in dir ("" = memory),
// with users b0..b(n-1) holding a few consent records each.
func benchServer(b *testing.B, dir string, users int) http.Handler {
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
	log := slog.New(slog.DiscardHandler)
	db, err := badgerstore.Open(ctx, badgerstore.Options{InMemory: true}, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	pol, err := policies.New(ctx, policies.Options{}, log)
	if err != nil {
		b.Fatal(err)
	}
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
