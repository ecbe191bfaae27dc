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
// Txn is the only way to write. One committer goroutine takes the Txns
// waiting in the queue as a group, evaluates them in arrival order against an
// in-memory index of every live key's revisions (etcd keeps the same), gives
// each changing Txn the next revision, and builds one Pebble batch for the
// group. An applier goroutine applies the batch to Pebble without waiting
// for its fsync while the committer evaluates the next group; a syncer
// goroutine waits, in the same order, for each group's WAL fsync. Only then
// is a revision made visible to readers, its changes published to watchers
// and its caller answered. A lone writer makes groups of one and pays one
// fsync; many writers share fsyncs (group commit).
//
//	caller ──Txn──▶ queue ──▶ committer ──group──▶ applier ──▶ Pebble (memtable + WAL)
//	                                                  │
//	                                                  ▼ (FIFO)
//	                          caller ◀── watchers ◀── syncer (fsync done: revision visible)
//
// # Layout in Pebble
//
//	m<name>                          metadata: format, compact, compacting
//	r<rev:8 BE>                      change log: what changed at rev (keys, not values)
//	v<escaped key>\x00\x01<^rev:8 BE> one version of key, newest first
//
// Readers never see a version newer than the last synced revision, so an
// acknowledged write is the only kind of write a reader can observe.
package store
