package badgerstore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSegments(t *testing.T) {
	s := &segments{dir: t.TempDir()}
	defer s.close()
	old := time.Date(2026, 11, 1, 10, 30, 0, 0, time.UTC)
	now := time.Date(2026, 11, 28, 19, 5, 0, 0, time.UTC)

	oldLocs, err := s.append(old, [][]byte{[]byte(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	locs, err := s.append(now, [][]byte{[]byte(`{"b":2}`), []byte(`{"c":"三"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{`{"b":2}`, `{"c":"三"}`} {
		if got, err := s.read(locs[i]); err != nil || string(got) != want {
			t.Errorf("read(%v) = %s, %v; want %s", locs[i], got, err, want)
		}
	}
	if err := s.erase(locs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.read(locs[0]); !errors.Is(err, errErased) {
		t.Errorf("read after erase: err = %v, want errErased", err)
	}
	if got, err := s.read(locs[1]); err != nil || string(got) != `{"c":"三"}` {
		t.Errorf("the neighbour of an erased entry = %s, %v", got, err)
	}

	if err := s.expire(now.Add(-24 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.path(oldLocs[0].hour)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old segment not expired: %v", err)
	}
	if err := s.erase(oldLocs[0]); err != nil {
		t.Errorf("erasing in an expired segment: %v", err)
	}
	if err := s.expire(now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.path(locs[1].hour)); err != nil {
		t.Errorf("the segment being written was expired: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(s.dir, "*.ndjson")); len(m) != 1 {
		t.Errorf("segments left = %v, want the current one", m)
	}
}
