package badgerstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The decision log's entries live in hourly segment files, one JSON
// document per line, written with plain writes: no memory mapping, so
// however much is logged, it costs page cache and never the process's
// resident set (Badger maps its value log and tables; two decisions a
// request made those pages most of heed's RSS). Badger keeps only a small
// index, decision id -> location. Erasing a decision overwrites its bytes
// with spaces in place; a segment is deleted whole once older than the TTL.
//
// The segment being written is owned by the decision-log writer goroutine;
// reads and erasures open the file by name, so they need no lock.
type segments struct {
	dir  string
	cur  *os.File // guarded by being used only by the writer
	hour uint32   // cur's hour since the Unix epoch
	size int64    // cur's size
}

// A segLoc locates one entry.
type segLoc struct {
	hour uint32
	off  uint64
	n    uint32
}

func (l segLoc) encode() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint32(b, l.hour)
	binary.BigEndian.PutUint64(b[4:], l.off)
	binary.BigEndian.PutUint32(b[12:], l.n)
	return b
}

func decodeSegLoc(b []byte) (segLoc, error) {
	if len(b) != 16 {
		return segLoc{}, fmt.Errorf("badgerstore: corrupt decision index entry (%d bytes)", len(b))
	}
	return segLoc{binary.BigEndian.Uint32(b), binary.BigEndian.Uint64(b[4:]), binary.BigEndian.Uint32(b[12:])}, nil
}

func (s *segments) path(hour uint32) string {
	return filepath.Join(s.dir, fmt.Sprintf("%010d.ndjson", hour))
}

// append writes entries (each one JSON document without newlines) to the
// segment of the hour of now and returns where each went.
func (s *segments) append(now time.Time, entries [][]byte) ([]segLoc, error) {
	hour := uint32(now.Unix() / 3600)
	if s.cur == nil || hour != s.hour {
		if s.cur != nil {
			s.cur.Close()
			s.cur = nil
		}
		f, err := os.OpenFile(s.path(hour), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		s.cur, s.hour, s.size = f, hour, fi.Size()
	}
	var buf []byte
	locs := make([]segLoc, len(entries))
	off := s.size
	for i, e := range entries {
		locs[i] = segLoc{hour: hour, off: uint64(off), n: uint32(len(e))}
		buf = append(append(buf, e...), '\n')
		off += int64(len(e)) + 1
	}
	n, err := s.cur.Write(buf)
	s.size += int64(n)
	if err != nil {
		return nil, err
	}
	return locs, nil
}

// errErased reports an entry whose bytes were overwritten by an erasure.
var errErased = errors.New("erased")

// read returns the entry at l.
func (s *segments) read(l segLoc) ([]byte, error) {
	f, err := os.Open(s.path(l.hour))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, l.n)
	if _, err := f.ReadAt(b, int64(l.off)); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(b) == 0 || b[0] == ' ' {
		return nil, errErased
	}
	return b, nil
}

// erase overwrites the entry at l with spaces. A segment already deleted
// has nothing left to erase.
func (s *segments) erase(l segLoc) error {
	f, err := os.OpenFile(s.path(l.hour), os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(strings.Repeat(" ", int(l.n))), int64(l.off)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// expire deletes the segments of hours before cutoff, except the one being
// written. It is called by the writer goroutine.
func (s *segments) expire(cutoff time.Time) error {
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	limit := uint32(cutoff.Unix() / 3600)
	for _, e := range names {
		h, err := strconv.ParseUint(strings.TrimSuffix(e.Name(), ".ndjson"), 10, 32)
		if err != nil || !strings.HasSuffix(e.Name(), ".ndjson") || uint32(h) >= limit || (s.cur != nil && uint32(h) == s.hour) {
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (s *segments) close() error {
	if s.cur == nil {
		return nil
	}
	err := s.cur.Close()
	s.cur = nil
	return err
}
