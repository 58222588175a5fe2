package engine_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"heed/engine"
)

// BenchmarkRecordEvents measures event ingestion through Service.RecordEvents
// with the real policies and a real, synced Badger store on disk: batches of
// 500 events over 1,000 users (about 400 distinct users a batch), 100 or 50
// users, 8 batches in flight (as from concurrent HTTP
// requests). Consents are mixed: 50% grant personalization and analytics,
// 20% personalization but not purchases, 15% analytics only, 15% nothing.
// The target is 50,000 events/s through the HTTP API on 2 cores.
func BenchmarkRecordEvents(b *testing.B) {
	for _, users := range []int{1000, 100, 50} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) { benchRecordEvents(b, users) })
	}
}

func benchRecordEvents(b *testing.B, users int) {
	e := newEnv(b)
	rng := rand.New(rand.NewPCG(1, 2))
	const nItems = 2000
	items := make([]engine.Item, nItems)
	for i := range items {
		items[i] = engine.Item{ID: engine.ItemID(fmt.Sprintf("sku-%05d", i)), Title: "item",
			Category: fmt.Sprintf("cat-%02d", i%40), Tags: []string{fmt.Sprintf("brand-%02d", i%25)}, Price: 10, InStock: true}
	}
	e.items(b, items...)
	for i := range users {
		id := engine.UserID(fmt.Sprintf("user-%04d", i))
		var recs []engine.ConsentRecord
		switch p := rng.IntN(100); {
		case p < 50:
			recs = []engine.ConsentRecord{grant(engine.PurposePersonalization, "", ""), grant(engine.PurposeAnalytics, "", "")}
		case p < 70:
			recs = []engine.ConsentRecord{grant(engine.PurposePersonalization, "", ""),
				{Purpose: engine.PurposePersonalization, Signal: engine.SignalPurchases, Status: engine.StatusDenied, Source: "app"}}
		case p < 85:
			recs = []engine.ConsentRecord{grant(engine.PurposeAnalytics, "", "")}
		}
		e.user(b, id, recs...)
	}
	tps := []engine.Touchpoint{engine.TouchpointApp, engine.TouchpointApp, engine.TouchpointWeb, engine.TouchpointMiniProgram}
	batches := make([][]engine.Event, 32)
	for i := range batches {
		evs := make([]engine.Event, 500)
		for j := range evs {
			u := engine.UserID(fmt.Sprintf("user-%04d", rng.IntN(users)))
			at := now.Add(-time.Duration(rng.IntN(30*24*3600)) * time.Second)
			item := items[rng.IntN(nItems)].ID
			tp := tps[rng.IntN(len(tps))]
			ev := engine.Event{Type: engine.EventView, User: u, Item: item, Touchpoint: tp, OccurredAt: at}
			switch p := rng.IntN(100); {
			case p < 10:
				ev.Type = engine.EventCart
			case p < 15:
				ev.Type = engine.EventFavorite
			case p < 20:
				ev.Type, ev.Item, ev.Query = engine.EventSearch, "", "shoes"
			case p < 25:
				ev.Type, ev.Item = engine.EventPurchase, ""
				ev.Order = fmt.Sprintf("o-%d-%d", i, j)
				ev.Items = []engine.LineItem{{Item: item, Quantity: 1, Price: 10}, {Item: items[rng.IntN(nItems)].ID, Quantity: 2, Price: 5}}
			case p < 28:
				ev.Type, ev.Touchpoint = engine.EventStoreVisit, engine.TouchpointStore
			}
			evs[j] = ev
		}
		batches[i] = evs
	}
	var n atomic.Int64
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((8 + procs - 1) / procs)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := e.svc.RecordEvents(e.ctx, batches[int(i)%len(batches)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*500)/time.Since(start).Seconds(), "events/s")
	// CPU per event says more than events/s on a shared machine: 2 cores
	// divided by it is the rate the two cores could sustain.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*500), "cpu-µs/event")
	b.ReportMetric(float64(e.db.DroppedDecisions()), "dropped-decisions")
}

// cpuTime returns the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
