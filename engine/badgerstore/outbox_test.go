package badgerstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

func outboxItem(id string, next time.Time) engine.OutboxItem {
	return engine.OutboxItem{ID: id, Target: "https://crm.example/hook", NextAt: next,
		Change: engine.Change{ID: "chg_" + id, Event: engine.EventConsentChanged, User: "u1", At: t0, Body: json.RawMessage(`{"version":2}`)}}
}

func outboxIDs(items []engine.OutboxItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func TestOutbox(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustUser(t, db, "u1")

	if _, ok, err := db.NextOutboxAt(ctx); err != nil || ok {
		t.Fatalf("NextOutboxAt on an empty outbox = %v, %v; want false", ok, err)
	}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	// Written as effects, out of due order; "o0" has no NextAt: due at once.
	items := []engine.OutboxItem{outboxItem("o3", at(3)), outboxItem("o1", at(1)), outboxItem("o2b", at(2)),
		outboxItem("o2a", at(2)), outboxItem("o0", time.Time{}), outboxItem("o9", at(9))}
	if err := db.AppendConsents(ctx, "u1", nil, engine.Effects{Outbox: items}); err != nil {
		t.Fatal(err)
	}

	due := func(now time.Time, limit int) []string {
		t.Helper()
		got, err := db.DueOutbox(ctx, now, limit)
		if err != nil {
			t.Fatal(err)
		}
		return outboxIDs(got)
	}
	steps := []struct {
		name     string
		do       func() error
		now      time.Time
		limit    int
		want     []string
		wantNext time.Time // after do
	}{
		{name: "due at 2m, oldest first, ties by id", now: at(2), limit: 10,
			want: []string{"o0", "o1", "o2a", "o2b"}},
		{name: "limit", now: at(2), limit: 2, want: []string{"o0", "o1"}},
		{name: "nothing due before the first", now: at(-100), limit: 10, want: []string{"o0"}},
		{name: "complete", do: func() error { return db.CompleteOutbox(ctx, engine.OutboxItem{ID: "o0"}) },
			now: at(2), limit: 10, want: []string{"o1", "o2a", "o2b"}, wantNext: at(1)},
		{name: "retry moves the item later", do: func() error {
			it := outboxItem("o1", at(5))
			it.Attempts, it.LastErr = 1, "503 Service Unavailable"
			return db.RetryOutbox(ctx, it)
		}, now: at(4), limit: 10, want: []string{"o2a", "o2b", "o3"}, wantNext: at(2)},
		{name: "retried item is due at its new time", now: at(5), limit: 10,
			want: []string{"o2a", "o2b", "o3", "o1"}, wantNext: at(2)},
		{name: "dead letter", do: func() error {
			it := outboxItem("o2a", at(2))
			it.Attempts, it.LastErr = 8, "410 Gone"
			return db.DeadOutbox(ctx, it)
		}, now: at(100), limit: 10, want: []string{"o2b", "o3", "o1", "o9"}, wantNext: at(2)},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.do != nil {
				if err := s.do(); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(s.want, due(s.now, s.limit)); diff != "" {
				t.Errorf("due (-want +got):\n%s", diff)
			}
			if s.do == nil {
				return
			}
			next, ok, err := db.NextOutboxAt(ctx)
			if err != nil || !ok || !next.Equal(s.wantNext) {
				t.Errorf("NextOutboxAt = %v, %v, %v; want %v", next, ok, err, s.wantNext)
			}
		})
	}

	t.Run("retried item keeps its new state", func(t *testing.T) {
		got, err := db.DueOutbox(ctx, at(5), 10)
		if err != nil {
			t.Fatal(err)
		}
		want := outboxItem("o1", at(5))
		want.Attempts, want.LastErr = 1, "503 Service Unavailable"
		if diff := cmp.Diff(want, got[len(got)-1]); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("dead letters", func(t *testing.T) {
		got, err := db.DeadLetters(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := outboxItem("o2a", at(2))
		want.Attempts, want.LastErr = 8, "410 Gone"
		if diff := cmp.Diff([]engine.OutboxItem{want}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("unknown items", func(t *testing.T) {
		for name, do := range map[string]func() error{
			"complete twice":      func() error { return db.CompleteOutbox(ctx, engine.OutboxItem{ID: "o0"}) },
			"retry a dead letter": func() error { return db.RetryOutbox(ctx, outboxItem("o2a", at(50))) },
			"dead unknown":        func() error { return db.DeadOutbox(ctx, outboxItem("zz", at(1))) },
		} {
			if err := do(); err == nil {
				t.Errorf("%s: no error, want ErrNotFound", name)
			} else {
				wantErr(t, err, engine.ErrNotFound)
			}
		}
		if diff := cmp.Diff([]string{"o2b", "o3", "o1", "o9"}, due(at(100), 10)); diff != "" {
			t.Errorf("due after failed calls (-want +got):\n%s", diff)
		}
	})
	t.Run("drain", func(t *testing.T) {
		for _, id := range []string{"o2b", "o3", "o1", "o9"} {
			if err := db.CompleteOutbox(ctx, engine.OutboxItem{ID: id}); err != nil {
				t.Fatal(err)
			}
		}
		if _, ok, err := db.NextOutboxAt(ctx); err != nil || ok {
			t.Errorf("NextOutboxAt after draining = %v, %v; want false", ok, err)
		}
	})
}

// Erasure takes the user's dead letters with it, and a change about a
// user erased since is not dead-lettered, but the erasure's own event is
// (an operator must learn that a target was never told).
func TestDeadLettersOfErasedUsers(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	item := func(id string, user engine.UserID, event string) engine.OutboxItem {
		it := outboxItem(id, t0)
		it.Change.User, it.Change.Event = user, event
		return it
	}
	for _, u := range []engine.UserID{"u1", "u2", "u3"} {
		mustUser(t, db, u)
		if err := db.AppendConsents(ctx, u, nil, engine.Effects{Outbox: []engine.OutboxItem{
			item("c-"+string(u), u, engine.EventConsentChanged)}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []engine.UserID{"u1", "u2"} {
		if err := db.DeadOutbox(ctx, item("c-"+string(u), u, engine.EventConsentChanged)); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []engine.UserID{"u1", "u3"} {
		fx := engine.Effects{Outbox: []engine.OutboxItem{item("e-"+string(u), u, engine.EventUserErased)}}
		if err := db.Erase(ctx, u, engine.ErasureProof{SubjectHash: "hash-" + string(u)}, fx); err != nil {
			t.Fatal(err)
		}
	}
	// u3's consent change and erasure event die after the erasure.
	for _, it := range []engine.OutboxItem{item("c-u3", "u3", engine.EventConsentChanged), item("e-u3", "u3", engine.EventUserErased)} {
		if err := db.DeadOutbox(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	dead, err := db.DeadLetters(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"c-u2", "e-u3"}, outboxIDs(dead)); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
}
