package badgerstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"

	"heed/engine"
	"heed/engine/badgerstore"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// mustOpenDB opens an in-memory DB closed at the end of the test.
func mustOpenDB(tb testing.TB) *badgerstore.DB {
	tb.Helper()
	return mustOpen(tb, badgerstore.Options{InMemory: true})
}

// mustOpen opens a DB with opts, closed at the end of the test.
func mustOpen(tb testing.TB, opts badgerstore.Options) *badgerstore.DB {
	tb.Helper()
	db, err := badgerstore.Open(context.Background(), opts, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func mustClose(tb testing.TB, db *badgerstore.DB) {
	tb.Helper()
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

// mustUser creates the user id.
func mustUser(tb testing.TB, db *badgerstore.DB, id engine.UserID) engine.User {
	tb.Helper()
	u, err := db.PutUser(context.Background(), id, engine.Profile{Region: "310000", TimeZone: "Asia/Shanghai"}, t0)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// rec returns a consent record recorded at t0 plus sec seconds.
func rec(id string, p engine.Purpose, s engine.Status, sec int) engine.ConsentRecord {
	return engine.ConsentRecord{ID: id, Purpose: p, Status: s, Source: "app", RecordedAt: t0.Add(time.Duration(sec) * time.Second)}
}

func mustAppend(tb testing.TB, db *badgerstore.DB, id engine.UserID, recs ...engine.ConsentRecord) {
	tb.Helper()
	if err := db.AppendConsents(context.Background(), id, recs, engine.Effects{}); err != nil {
		tb.Fatal(err)
	}
}

func mustConsents(tb testing.TB, db *badgerstore.DB, id engine.UserID, p engine.Purpose) []engine.ConsentRecord {
	tb.Helper()
	got, err := db.Consents(context.Background(), id, p)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

// ids returns the ids of records.
func ids(records []engine.ConsentRecord) []string {
	out := make([]string, len(records))
	for i, r := range records {
		out[i] = r.ID
	}
	return out
}

// owned returns records as stored for user: User set.
func owned(user engine.UserID, records ...engine.ConsentRecord) []engine.ConsentRecord {
	out := make([]engine.ConsentRecord, len(records))
	for i, r := range records {
		r.User = user
		out[i] = r
	}
	return out
}

func wantErr(tb testing.TB, err, kind error) {
	tb.Helper()
	if !errors.Is(err, kind) {
		tb.Fatalf("err = %v, want %v", err, kind)
	}
}

func TestOpenNeedsDir(t *testing.T) {
	_, err := badgerstore.Open(context.Background(), badgerstore.Options{}, nil)
	wantErr(t, err, engine.ErrInvalid)
}

func TestPingAndClose(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	mustClose(t, db)
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	wantErr(t, db.Ping(ctx), engine.ErrUnavailable)
	_, err := db.User(ctx, "u1")
	wantErr(t, err, engine.ErrUnavailable)
	before := db.DroppedDecisions()
	db.LogDecision(engine.Decision{ID: "dec_after_close"})
	if got := db.DroppedDecisions(); got != before+1 {
		t.Errorf("DroppedDecisions after Close = %d, want %d", got, before+1)
	}
}

func TestSchemaVersion(t *testing.T) {
	tests := []struct {
		name  string
		setup func(tb testing.TB, dir string) // on a raw Badger in dir
		want  string                          // in Open's error; "" for success
	}{
		{
			name:  "fresh database",
			setup: func(testing.TB, string) {},
		},
		{
			name: "current version",
			setup: func(tb testing.TB, dir string) {
				rawSet(tb, dir, "m/schema", "1")
			},
		},
		{
			name: "unknown version",
			setup: func(tb testing.TB, dir string) {
				rawSet(tb, dir, "m/schema", "99")
			},
			want: `unsupported schema version "99"`,
		},
		{
			name: "data without version",
			setup: func(tb testing.TB, dir string) {
				rawSet(tb, dir, "something", "else")
			},
			want: "no schema version",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			db, err := badgerstore.Open(context.Background(), badgerstore.Options{Dir: dir}, nil)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				mustClose(t, db)
				return
			}
			if err == nil {
				db.Close()
				t.Fatalf("Open succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open: %v, want error containing %q", err, tt.want)
			}
		})
	}
}

// rawDo runs fn on the raw Badger database in dir.
func rawDo(tb testing.TB, dir string, fn func(txn *badger.Txn) error) {
	tb.Helper()
	kv, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		tb.Fatal(err)
	}
	defer kv.Close()
	if err := kv.Update(fn); err != nil {
		tb.Fatal(err)
	}
}

func rawSet(tb testing.TB, dir, k, v string) {
	tb.Helper()
	rawDo(tb, dir, func(txn *badger.Txn) error { return txn.Set([]byte(k), []byte(v)) })
}

// rawKeys lists the keys of the raw Badger database in dir with prefix.
func rawKeys(tb testing.TB, dir, prefix string) []string {
	tb.Helper()
	var keys []string
	rawDo(tb, dir, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, string(it.Item().KeyCopy(nil)))
		}
		return nil
	})
	return keys
}

// TestReopen checks that every write path is on disk: what one DB wrote, the
// next one, opened on the same directory, reads.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := mustOpen(t, badgerstore.Options{Dir: dir})

	mustUser(t, db, "u1")
	mustUser(t, db, "u2")
	mustUser(t, db, "gone")
	phone := engine.Identity{Type: "phone", Value: "+8613800000000"}
	item := engine.OutboxItem{ID: "out_1", Target: "https://crm.example/hook", NextAt: t0,
		Change: engine.Change{ID: "chg_1", Event: engine.EventConsentChanged, User: "u1", At: t0, Body: json.RawMessage(`{"x":1}`)}}
	act := engine.ActivityEntry{ID: "act_1", User: "u1", At: t0, Action: engine.ActionConsentChange, Actor: "storefront"}
	recs := []engine.ConsentRecord{rec("c1", engine.PurposeMarketing, engine.StatusGranted, 0), rec("c2", engine.PurposeAnalytics, engine.StatusDenied, 1)}
	notice := engine.Notice{Purpose: engine.PurposeMarketing, Version: "2026-01", PublishedAt: t0}
	dec := engine.Decision{ID: "dec_1", At: t0, Path: "heed/consent", User: "u1", Input: map[string]any{"a": "b"}, Result: true, Allow: true}
	proof := engine.ErasureProof{SubjectHash: "h-gone", ErasedAt: t0, DecisionID: "dec_e",
		Records: []engine.ProofRecord{{ID: "cg", Scope: engine.Scope{Purpose: engine.PurposeAnalytics}, Status: engine.StatusGranted, RecordedAt: t0}}}
	interests := []engine.InterestTag{{Tag: "category:shoes", Weight: 0.5, UpdatedAt: t0}}

	steps := []struct {
		name string
		do   func() error
	}{
		{"AddIdentity", func() error { return db.AddIdentity(ctx, "u1", phone, engine.Effects{}) }},
		{"AppendConsents", func() error {
			return db.AppendConsents(ctx, "u1", recs, engine.Effects{Activity: []engine.ActivityEntry{act}, Outbox: []engine.OutboxItem{item}})
		}},
		{"PutNotice", func() error { return db.PutNotice(ctx, notice) }},
		{"UpdatePreferences", func() error {
			_, err := db.UpdatePreferences(ctx, "u1", func(p engine.Preferences) (engine.Preferences, engine.Effects, error) {
				p.Version++
				p.Language = "zh-CN"
				return p, engine.Effects{}, nil
			})
			return err
		}},
		{"AddInterests", func() error { return db.AddInterests(ctx, "u1", interests) }},
		{"DeleteInterest", func() error { return db.DeleteInterest(ctx, "u1", "category:bags", engine.Effects{}) }},
		{"PutPolicyModule", func() error { return db.PutPolicyModule(ctx, "authz.rego", "package heed.authz") }},
		{"Erase", func() error { return db.Erase(ctx, "gone", proof, engine.Effects{}) }},
		{"Merge", func() error { return db.Merge(ctx, engine.Merge{Survivor: "u1", Absorbed: "u2"}) }},
		{"outbox item to dead-letter", func() error {
			return db.AppendConsents(ctx, "u1", nil, engine.Effects{Outbox: []engine.OutboxItem{{ID: "out_2", NextAt: t0}}})
		}},
		{"DeadOutbox", func() error {
			return db.DeadOutbox(ctx, engine.OutboxItem{ID: "out_2", LastErr: "410 Gone", Change: engine.Change{Event: engine.EventConsentChanged, User: "u1"}})
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	db.LogDecision(dec) // Close must flush it
	mustClose(t, db)

	db = mustOpen(t, badgerstore.Options{Dir: dir})
	u, err := db.User(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]engine.Identity{phone}, u.Identities); diff != "" {
		t.Errorf("identities (-want +got):\n%s", diff)
	}
	if _, err := db.User(ctx, "u2"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("merged user u2: err = %v, want ErrNotFound", err)
	}
	if diff := cmp.Diff(owned("u1", recs...), mustConsents(t, db, "u1", "")); diff != "" {
		t.Errorf("consents (-want +got):\n%s", diff)
	}
	notices, err := db.Notices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]engine.Notice{notice}, notices); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
	p, err := db.Preferences(ctx, "u1")
	if err != nil || p.Version != 1 || p.Language != "zh-CN" {
		t.Errorf("preferences = %+v, %v; want version 1, language zh-CN", p, err)
	}
	in, err := db.Interests(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(engine.Interests{Tags: interests, Deleted: []string{"category:bags"}}, in); diff != "" {
		t.Errorf("interests (-want +got):\n%s", diff)
	}
	entries, _, err := db.Activity(ctx, "u1", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]engine.ActivityEntry{act}, entries); diff != "" {
		t.Errorf("activity (-want +got):\n%s", diff)
	}
	due, err := db.DueOutbox(ctx, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]engine.OutboxItem{item}, due); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
	dead, err := db.DeadLetters(ctx, 10)
	if err != nil || len(dead) != 1 || dead[0].LastErr != "410 Gone" {
		t.Errorf("dead letters = %+v, %v; want out_2 with its error", dead, err)
	}
	mods, err := db.PolicyModules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"authz.rego": "package heed.authz"}, mods); diff != "" {
		t.Errorf("policy modules (-want +got):\n%s", diff)
	}
	gotProof, err := db.ErasureProof(ctx, "h-gone")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(proof, gotProof); diff != "" {
		t.Errorf("erasure proof (-want +got):\n%s", diff)
	}
	gotDec, err := db.Decision(ctx, "dec_1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dec, gotDec); diff != "" {
		t.Errorf("decision (-want +got):\n%s", diff)
	}
}
