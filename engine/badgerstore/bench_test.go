package badgerstore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"heed/engine"
	"heed/engine/badgerstore"
)

// BenchmarkAppendConsentsParallel measures acknowledged (synced) consent
// appends from 32 concurrent writers, one record per call, each to its own
// user, on disk. The target is at least 5,000 records/s on 2 cores.
func BenchmarkAppendConsentsParallel(b *testing.B) {
	ctx := context.Background()
	db := mustOpen(b, badgerstore.Options{Dir: b.TempDir()})
	const users = 1024
	for i := range users {
		mustUser(b, db, engine.UserID(fmt.Sprintf("user-%04d", i)))
	}
	var n atomic.Int64
	// RunParallel starts parallelism × GOMAXPROCS goroutines: make it 32.
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((32 + procs - 1) / procs)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			r := engine.ConsentRecord{ID: fmt.Sprintf("con_%012d", i), Purpose: engine.PurposeMarketing,
				Channel: engine.ChannelEmail, Status: engine.StatusGranted, NoticeVersion: "2026-01",
				Source: "app", RecordedAt: time.Now()}
			id := engine.UserID(fmt.Sprintf("user-%04d", i%users))
			if err := db.AppendConsents(ctx, id, []engine.ConsentRecord{r}, engine.Effects{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkConsentsRead measures the hot path of /consents/check: reading
// one purpose's records of a user whose ledger holds 10 records.
func BenchmarkConsentsRead(b *testing.B) {
	ctx := context.Background()
	db := mustOpen(b, badgerstore.Options{Dir: b.TempDir()})
	const users = 1000
	purposes := []engine.Purpose{engine.PurposeMarketing, engine.PurposePersonalization, engine.PurposeAnalytics}
	for i := range users {
		id := engine.UserID(fmt.Sprintf("user-%04d", i))
		mustUser(b, db, id)
		recs := make([]engine.ConsentRecord, 10)
		for j := range recs {
			recs[j] = engine.ConsentRecord{ID: fmt.Sprintf("con_%04d_%02d", i, j), Purpose: purposes[j%len(purposes)],
				Status: engine.StatusGranted, NoticeVersion: "2026-01", Source: "app", RecordedAt: t0.Add(time.Duration(j) * time.Second)}
		}
		mustAppend(b, db, id, recs...)
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		got, err := db.Consents(ctx, engine.UserID(fmt.Sprintf("user-%04d", i%users)), engine.PurposeMarketing)
		if err != nil || len(got) != 4 {
			b.Fatalf("Consents = %d records, %v; want 4", len(got), err)
		}
		i++
	}
}

// BenchmarkEvents measures the read behind every recommendation request
// (Service.History): the newest 500 events of a user who has 2,000.
func BenchmarkEvents(b *testing.B) {
	ctx := context.Background()
	db := mustOpen(b, badgerstore.Options{Dir: b.TempDir()})
	const id = engine.UserID("user-0001")
	mustUser(b, db, id)
	types := []engine.EventType{engine.EventView, engine.EventView, engine.EventCart, engine.EventFavorite, engine.EventPurchase}
	for c := range 4 {
		evs := make([]engine.Event, 500)
		for j := range evs {
			n := c*500 + j
			e := engine.Event{ID: fmt.Sprintf("evt_%012d", n), Type: types[n%len(types)], User: id,
				Item: engine.ItemID(fmt.Sprintf("sku-%05d", n%2000)), Touchpoint: engine.TouchpointApp,
				Region: "310000", OccurredAt: t0.Add(time.Duration(n) * time.Minute)}
			if e.Type == engine.EventPurchase {
				e.Item, e.Order = "", fmt.Sprintf("o-%d", n)
				e.Items = []engine.LineItem{{Item: "sku-00001", Quantity: 1, Price: 10}, {Item: "sku-00002", Quantity: 2, Price: 5}}
			}
			evs[j] = e
		}
		if err := db.AppendEvents(ctx, engine.EventBatch{Events: evs}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := db.Events(ctx, id, 500)
		if err != nil || len(got) != 500 {
			b.Fatalf("Events = %d events, %v; want 500", len(got), err)
		}
	}
}
