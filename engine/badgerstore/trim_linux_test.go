//go:build linux

package badgerstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

// TestTrimTables checks that trimTables releases the resident pages of the
// mapped tables and that the data reads the same afterwards.
func TestTrimTables(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, Options{Dir: dir, MemTableSize: 1 << 20, TrimInterval: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, err := db.PutUser(ctx, "u1", engine.Profile{}, t0); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		recs := make([]engine.ConsentRecord, 100)
		for j := range recs {
			recs[j] = engine.ConsentRecord{ID: fmt.Sprintf("con_%03d_%03d", i, j), Purpose: engine.PurposeAnalytics,
				Status: engine.StatusGranted, Source: strings.Repeat("s", 50), RecordedAt: t0}
		}
		if err := db.AppendConsents(ctx, "u1", recs, engine.Effects{}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); len(db.kv.Tables()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("setup: no table was flushed")
		}
	}
	want, err := db.Consents(ctx, "u1", "") // reads the tables
	if err != nil {
		t.Fatal(err)
	}
	before := residentTableKB(t, dir)
	if before == 0 {
		t.Fatal("setup: no table pages are resident")
	}
	if err := trimTables(db.kv, db.tableDir); err != nil {
		t.Fatal(err)
	}
	after := residentTableKB(t, dir)
	t.Logf("resident table pages: %d kB before, %d kB after", before, after)
	if after >= before {
		t.Errorf("resident table pages: %d kB before trimming, %d kB after", before, after)
	}
	got, err := db.Consents(ctx, "u1", "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ledger after trimming (-want +got):\n%s", diff)
	}
}

// residentTableKB sums the resident kB of the mappings of dir's .sst files.
func residentTableKB(t *testing.T, dir string) int {
	t.Helper()
	dir = resolveDir(dir)
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, inTable := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			inTable = len(fields) == 6 && filepath.Dir(fields[5]) == dir && strings.HasSuffix(fields[5], ".sst")
		case inTable && len(fields) >= 2 && fields[0] == "Rss:":
			kb, _ := strconv.Atoi(fields[1])
			total += kb
		}
	}
	return total
}
