package badgerstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"heed/engine"
	"heed/engine/badgerstore"
)

// ScanUserFacts walks users, ledgers, preferences and recent sends side by
// side; it must find for each user exactly what the per-user reads find,
// whatever mix of users has which data, and in any chunking.
func TestScanUserFactsMatchesPerUserReads(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, badgerstore.Options{InMemory: true})
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 300
	for i := range n {
		id := engine.UserID(fmt.Sprintf("user-%03d", i))
		if _, err := db.PutUser(ctx, id, engine.Profile{TimeZone: "Asia/Shanghai"}, t0); err != nil {
			t.Fatal(err)
		}
		var recs []engine.ConsentRecord
		for j := range rng.IntN(6) {
			r := engine.ConsentRecord{ID: engine.NewID("con_"), Purpose: engine.Purposes[rng.IntN(len(engine.Purposes))],
				Status: engine.StatusGranted, RecordedAt: t0.Add(time.Duration(j) * time.Minute)}
			switch r.Purpose {
			case engine.PurposeMarketing:
				r.Channel = engine.Channels[rng.IntN(len(engine.Channels))]
			case engine.PurposeThirdPartySharing:
				r.Recipient = "partner"
			}
			recs = append(recs, r)
		}
		if i == 150 { // a long ledger: the walk must seek past it, not step
			for j := range 40 {
				recs = append(recs, engine.ConsentRecord{ID: engine.NewID("con_"), Purpose: engine.PurposeAnalytics,
					Status: engine.StatusGranted, RecordedAt: t0.Add(time.Duration(10+j) * time.Minute)})
			}
		}
		if len(recs) > 0 {
			if err := db.AppendConsents(ctx, id, recs, engine.Effects{}); err != nil {
				t.Fatal(err)
			}
		}
		if rng.IntN(3) == 0 {
			_, err := db.UpdatePreferences(ctx, id, func(p engine.Preferences) (engine.Preferences, engine.Effects, error) {
				p.Version++
				p.OfferTypes = []string{engine.OfferTypes[rng.IntN(len(engine.OfferTypes))]}
				p.Categories = []string{fmt.Sprint("cat", i)}
				return p, engine.Effects{}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, chunk := range []int{0, 1, 7, 100} {
		var got []engine.UserFacts
		var after engine.UserID
		for {
			fs, err := db.ScanUserFacts(ctx, engine.FactsQuery{After: after, Limit: chunk})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fs...)
			if chunk == 0 || len(fs) < chunk {
				break
			}
			after = fs[len(fs)-1].User.ID
		}
		if len(got) != n {
			t.Fatalf("chunk %d: %d users, want %d", chunk, len(got), n)
		}
		for _, f := range got {
			p, err := db.Preferences(ctx, f.User.ID)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := db.Consents(ctx, f.User.ID, engine.PurposeMarketing)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(p, f.Prefs); diff != "" {
				t.Errorf("chunk %d, %s: preferences (-read +scanned):\n%s", chunk, f.User.ID, diff)
			}
			if diff := cmp.Diff(recs, f.Records, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("chunk %d, %s: marketing records (-read +scanned):\n%s", chunk, f.User.ID, diff)
			}
		}
	}
}
