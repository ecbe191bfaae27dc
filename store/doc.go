// Package store is wask's revisioned key-value store on Pebble, with etcd's
// semantics: one global revision incremented by every write, per-key create
// and mod revisions and versions, compare-then-write transactions, reads
// consistent at a revision, and watches that replay history from any retained
// revision and then follow live changes.
//
// It owns Pebble: no other package of wask imports it. It deals in bytes and
// knows nothing of API objects; the apiserver is its only user.
//
// # Write path
//
// Txn is the only way to write. Every Txn is evaluated by one committer
// goroutine, in arrival order, against the newest state; it gets the next
// revision and is applied to Pebble as one batch. A separate syncer goroutine
// waits, in the same order, for the batch's WAL fsync; only then is the
// revision made visible to readers, the change published to watchers and the
// caller answered. Pebble coalesces the fsyncs of batches that wait together,
// so throughput grows with the number of concurrent writers (group commit)
// while one writer still pays a single fsync.
//
//	caller ──Txn──▶ queue ──▶ committer ──apply──▶ Pebble (memtable + WAL)
//	                              │
//	                              ▼ (FIFO)
//	                            syncer ──fsync done──▶ rev visible ─▶ watchers ─▶ caller
//
// # Layout in Pebble
//
//	m<name>                          metadata: format, compact, compacting
//	r<rev:8 BE>                      change log: the events of revision rev
//	v<escaped key>\x00\x01<^rev:8 BE> one version of key, newest first
//
// Readers never see a version newer than the last synced revision, so an
// acknowledged write is the only kind of write a reader can observe.
package store
