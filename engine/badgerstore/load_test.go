package badgerstore_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"heed/engine"
	"heed/engine/badgerstore"
)

// TestLoadMemory loads HEED_LOAD_USERS users with 10 consent records each
// (1000000 for the sizing target: 1M users, 10M records), reads a sample
// back, and reports the process's peak and final memory. It is skipped
// unless HEED_LOAD_USERS is set; HEED_LOAD_DIR keeps the data in a given
// directory instead of a temporary one.
//
//	HEED_LOAD_USERS=1000000 go test -run TestLoadMemory -v -timeout 2h ./engine/badgerstore/
func TestLoadMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HEED_LOAD_USERS"))
	if n <= 0 {
		t.Skip("set HEED_LOAD_USERS to run the load test")
	}
	dir := os.Getenv("HEED_LOAD_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	ctx := context.Background()
	db := mustOpen(t, badgerstore.Options{Dir: dir})

	var peak memSample
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				peak = peak.max(readMem(t))
			}
		}
	})

	const perUser = 10
	purposes := []engine.Purpose{engine.PurposeMarketing, engine.PurposePersonalization, engine.PurposeAnalytics}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				id := engine.UserID(fmt.Sprintf("user-%07d", i))
				if _, err := db.PutUser(ctx, id, engine.Profile{Region: "310000", TimeZone: "Asia/Shanghai", Tier: "silver"}, t0); err != nil {
					t.Error(err)
					return
				}
				recs := make([]engine.ConsentRecord, perUser)
				for j := range recs {
					r := engine.ConsentRecord{ID: engine.NewID("con_"), Purpose: purposes[j%len(purposes)], Status: engine.StatusGranted,
						NoticeVersion: "2026-01", Source: "app", RecordedAt: t0.Add(time.Duration(j) * time.Minute)}
					switch r.Purpose {
					case engine.PurposeMarketing:
						r.Channel = engine.Channels[j%len(engine.Channels)]
					case engine.PurposePersonalization:
						r.Signal = engine.Signals[j%len(engine.Signals)]
					}
					recs[j] = r
				}
				if err := db.AppendConsents(ctx, id, recs, engine.Effects{}); err != nil {
					t.Error(err)
					return
				}
				if (i+1)%100000 == 0 {
					m := readMem(t)
					t.Logf("%7d users, %8d records, %5.0fs: %s", i+1, (i+1)*perUser, time.Since(start).Seconds(), m)
					writeHeapProfile(t, fmt.Sprintf("-%d", (i+1)/100000))
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	load := time.Since(start)
	t.Logf("loaded %d users and %d records in %v (%.0f records/s); peak during load: %s",
		n, n*perUser, load.Round(time.Second), float64(n*perUser)/load.Seconds(), peak)

	// Badger releases its pooled table-builder buffers once compaction
	// has been idle for a while; the serving state is what counts.
	idle := 30 * time.Second
	if v, err := time.ParseDuration(os.Getenv("HEED_LOAD_IDLE")); err == nil {
		idle = v
	}
	time.Sleep(idle)
	runtime.GC()
	t.Logf("after %v idle: %s", idle, readMem(t))

	start = time.Now()
	const reads = 200000
	for range reads {
		id := engine.UserID(fmt.Sprintf("user-%07d", rand.IntN(n)))
		if got, err := db.Consents(ctx, id, engine.PurposeMarketing); err != nil || len(got) != 4 {
			t.Fatalf("Consents(%s) = %d, %v", id, len(got), err)
		}
	}
	t.Logf("%d random one-purpose reads: %v each", reads, (time.Since(start) / reads).Round(100*time.Nanosecond))
	close(stop)
	sampler.Wait()
	t.Logf("after reads: %s; peak overall: %s", readMem(t), peak)
	writeHeapProfile(t, "")
}

// writeHeapProfile writes a heap profile to $HEED_LOAD_HEAPPROFILE+suffix,
// if that is set.
func writeHeapProfile(tb testing.TB, suffix string) {
	path := os.Getenv("HEED_LOAD_HEAPPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path + suffix)
	if err != nil {
		tb.Error(err)
		return
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		tb.Error(err)
	}
}

// A memSample is the process's memory, in MB: resident set, its anonymous
// and file-backed parts (file-backed: Badger's memory-mapped tables and
// logs, reclaimable page cache), and the Go heap in use.
type memSample struct{ rss, anon, file, heap float64 }

func (m memSample) max(o memSample) memSample {
	return memSample{max(m.rss, o.rss), max(m.anon, o.anon), max(m.file, o.file), max(m.heap, o.heap)}
}

func (m memSample) String() string {
	return fmt.Sprintf("RSS %.0f MB (anon %.0f, file %.0f), Go heap in use %.0f MB", m.rss, m.anon, m.file, m.heap)
}

func readMem(tb testing.TB) memSample {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var m memSample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			m.rss = kb / 1024
		case "RssAnon:":
			m.anon = kb / 1024
		case "RssFile:":
			m.file = kb / 1024
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.heap = float64(ms.HeapInuse) / (1 << 20)
	return m
}
