package badgerstore

// ActivityCommits returns how many transactions the usage-log writer has
// committed since Open.
func (db *DB) ActivityCommits() uint64 { return db.act.commits.Load() }
