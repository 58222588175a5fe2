//go:build linux

package badgerstore

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	badger "github.com/dgraph-io/badger/v4"
)

// Badger memory-maps every table file and writes new tables through the
// mapping, so each page of every table this process wrote, or any page
// it read, stays in its resident set until the kernel needs the memory. With
// 10M consent records that is hundreds of MB of clean, file-backed pages
// that count as RSS although they are only page cache.
//
// trimTables tells the kernel, with madvise(MADV_DONTNEED), that the
// process no longer needs those pages. For a shared file mapping that only
// drops them from the process's page tables: the data stays in the page
// cache (dirty pages are kept and written back), and the next read faults
// the page back in without disk I/O. Nothing Badger reads changes.
//
// Advising a range that was unmapped, and possibly reused by another mapping,
// would zero memory, so only tables pinned for the whole call are advised:
// an open iterator holds a reference to every table it covers, and a table
// listed both before and after the iterator was opened was in the tree when
// it was (table ids are never reused), so it stays mapped until the
// iterator is closed.
func trimTables(kv *badger.DB, dir string) error {
	if dir == "" {
		return nil
	}
	before := make(map[uint64]bool)
	for _, t := range kv.Tables() {
		before[t.ID] = true
	}
	txn := kv.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{}) // no prefix: pins every table
	defer it.Close()
	pinned := make(map[uint64]bool)
	for _, t := range kv.Tables() {
		if before[t.ID] {
			pinned[t.ID] = true
		}
	}

	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	for line := range bytes.Lines(maps) {
		// start-end perms offset dev inode path
		f := strings.Fields(string(line))
		if len(f) != 6 || filepath.Dir(f[5]) != dir || !strings.HasSuffix(f[5], ".sst") {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(f[5]), ".sst"), 10, 64)
		if err != nil || !pinned[id] {
			continue
		}
		start, end, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		lo, err1 := strconv.ParseUint(start, 16, 64)
		hi, err2 := strconv.ParseUint(end, 16, 64)
		if err1 != nil || err2 != nil || hi <= lo {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), syscall.MADV_DONTNEED); errno != 0 {
			return errno
		}
	}
	return nil
}
