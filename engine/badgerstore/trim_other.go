//go:build !linux

package badgerstore

// trimTables does nothing outside Linux.
func (db *DB) trimTables() error { return nil }
