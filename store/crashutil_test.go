package store

// Shared machinery of the crash tests (crash_test.go): a workload of
// concurrent writers that each own their keys, the record of what they
// intended and what was acknowledged, and a checker that proves a recovered
// store holds exactly a prefix of that history containing every
// acknowledged write.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/go-cmp/cmp"
)

const (
	crashWriters      = 8  // concurrent writer goroutines
	crashKeysPerOwner = 16 // keys owned by each writer
	// crashSentinelOwner is the index of the history of the checker's own
	// writes (one key, crashSentinelKey).
	crashSentinelOwner = crashWriters
	crashSentinelKey   = "sentinel"
)

func crashKey(owner, i int) string { return fmt.Sprintf("w%02d/k%02d", owner, i) }

// crashTxn is one Txn a writer issued: its ops, and its revision once it was
// acknowledged (0 until then).
type crashTxn struct {
	ops []Op
	rev int64
	// bound is the highest revision acknowledged anywhere before this Txn
	// was issued: its revision must be greater.
	bound int64
}

// crashHistory is every writer's sequence of Txns, indexed by owner
// (crashWriters writers plus the sentinel owner). A writer issues a Txn only
// after the previous one was acknowledged, so only the last Txn of each
// owner can be unacknowledged.
type crashHistory [][]crashTxn

func newCrashHistory() crashHistory { return make(crashHistory, crashWriters+1) }

func (h crashHistory) clone() crashHistory {
	c := make(crashHistory, len(h))
	for i, txns := range h {
		c[i] = slices.Clone(txns)
	}
	return c
}

// intent records that owner is about to issue ops.
func (h crashHistory) intent(owner int, ops []Op, bound int64) error {
	if n := len(h[owner]); n > 0 && h[owner][n-1].rev == 0 {
		return fmt.Errorf("owner %d issues a Txn before its previous one was acknowledged", owner)
	}
	h[owner] = append(h[owner], crashTxn{ops: ops, bound: bound})
	return nil
}

// ack records that owner's last Txn was acknowledged at rev.
func (h crashHistory) ack(owner int, rev int64) error {
	n := len(h[owner])
	if n == 0 || h[owner][n-1].rev != 0 {
		return fmt.Errorf("owner %d: acknowledgement of revision %d without a pending Txn", owner, rev)
	}
	r := &h[owner][n-1]
	if rev <= r.bound {
		return fmt.Errorf("owner %d: Txn acknowledged at revision %d, but revision %d was acknowledged before it was issued", owner, rev, r.bound)
	}
	if n > 1 && rev <= h[owner][n-2].rev {
		return fmt.Errorf("owner %d: Txn acknowledged at revision %d after its previous one at %d", owner, rev, h[owner][n-2].rev)
	}
	r.rev = rev
	return nil
}

// replay applies the Txns of h (all with known revisions) up to revision
// upTo (0: all) and returns the resulting keys and the events of every
// revision.
func (h crashHistory) replay(upTo int64) (map[string]KeyValue, map[int64][]Event, error) {
	state := make(map[string]KeyValue)
	events := make(map[int64][]Event)
	for owner, txns := range h {
		for _, tx := range txns {
			// A negative revision is a surviving Txn whose revision is not
			// known yet: it counts for the final state only.
			if tx.rev == 0 || (tx.rev < 0 && upTo != 0) {
				return nil, nil, fmt.Errorf("owner %d: replay of a Txn without a revision", owner)
			}
			if upTo > 0 && tx.rev > upTo {
				break
			}
			if _, dup := events[tx.rev]; dup && tx.rev > 0 {
				return nil, nil, fmt.Errorf("revision %d used by two Txns", tx.rev)
			}
			var evs []Event
			for _, op := range tx.ops {
				k := string(op.Key)
				prev, live := state[k]
				switch op.Type {
				case OpPut:
					kv := KeyValue{Key: []byte(k), Value: op.Value, CreateRevision: tx.rev, ModRevision: tx.rev, Version: 1}
					if live {
						kv.CreateRevision, kv.Version = prev.CreateRevision, prev.Version+1
					}
					state[k] = kv
					evs = append(evs, Event{Type: EventPut, KV: kv})
				case OpDelete:
					if !live {
						return nil, nil, fmt.Errorf("owner %d, revision %d: workload deleted absent key %q", owner, tx.rev, k)
					}
					delete(state, k)
					evs = append(evs, Event{Type: EventDelete, KV: KeyValue{Key: []byte(k), Value: prev.Value, CreateRevision: prev.CreateRevision, ModRevision: tx.rev}})
				}
			}
			if tx.rev > 0 {
				events[tx.rev] = evs
			}
		}
	}
	return state, events, nil
}

// crashRecoveryCheck describes what a store reopened after a crash must hold.
type crashRecoveryCheck struct {
	// hist is every Txn issued before the crash (the last one of an owner
	// may be unacknowledged).
	hist crashHistory
	// mustRev: every Txn acknowledged at or before it must be present.
	mustRev int64
	// from is a retained revision (≥ 1) to replay the change log from with
	// Watch; the history up to it is already checked.
	from int64
	// compactRevs are the compaction points the store may have recovered.
	compactRevs []int64
	rng         *rand.Rand
}

// checkCrashRecovered proves that s holds exactly a prefix of c.hist (per owner
// a prefix of its Txns, each all or nothing) containing every Txn
// acknowledged at or before c.mustRev, with the right create and mod
// revisions and versions; that its change log replays that history from
// c.from exactly once and in order; and that reads at a past retained
// revision see the state at that revision. It then writes the sentinel key
// (proving the store accepts writes) and returns the history it holds,
// including the sentinel write.
func checkCrashRecovered(t testing.TB, s *Store, c crashRecoveryCheck) crashHistory {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rev := s.Revision()
	if rev < c.mustRev {
		t.Fatalf("recovered revision %d is older than acknowledged revision %d", rev, c.mustRev)
	}
	compactRev := s.CompactRevision()
	if !slices.Contains(c.compactRevs, compactRev) {
		t.Fatalf("recovered compaction point %d, want one of %v", compactRev, c.compactRevs)
	}

	// Decide, per owner, which Txns survived.
	held := make(crashHistory, len(c.hist))
	var deleteOnly []int // owners whose surviving unacknowledged Txn only deletes: its revision is found in the log
	for owner, txns := range c.hist {
		for i, tx := range txns {
			if tx.rev > 0 && tx.rev <= c.mustRev && tx.rev > rev {
				t.Fatalf("owner %d: acknowledged revision %d is missing (store at %d)", owner, tx.rev, rev)
			}
			if tx.rev > rev {
				break // not durable, nor anything after it
			}
			if tx.rev > 0 {
				held[owner] = append(held[owner], tx)
				continue
			}
			if i != len(txns)-1 {
				t.Fatalf("owner %d: unacknowledged Txn %d is not its last", owner, i)
			}
			// Unacknowledged: it may or may not have survived. Its first op
			// tells (values are unique; deletes only hit live keys).
			op := tx.ops[0]
			kv, err := s.Get(ctx, op.Key)
			applied := false
			switch {
			case op.Type == OpPut && err == nil:
				applied = string(kv.Value) == string(op.Value)
			case op.Type == OpDelete:
				applied = errors.Is(err, ErrNotFound)
				err = nil
			}
			if err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatalf("get %q: %v", op.Key, err)
			}
			if !applied {
				break
			}
			for _, op := range tx.ops {
				if op.Type == OpPut {
					kv, err := s.Get(ctx, op.Key)
					if err != nil {
						t.Fatalf("owner %d: unacknowledged Txn half applied: get %q: %v", owner, op.Key, err)
					}
					tx.rev = kv.ModRevision
					break
				}
			}
			if tx.rev == 0 {
				deleteOnly = append(deleteOnly, owner)
				tx.rev = -1 // resolved from the change log below
			} else if tx.rev <= tx.bound || tx.rev > rev {
				t.Fatalf("owner %d: unacknowledged Txn survived at revision %d, want in (%d, %d]", owner, tx.rev, tx.bound, rev)
			}
			held[owner] = append(held[owner], tx)
		}
	}

	// The current state, read in pages of a random size.
	want := crashWantState(t, held, 0)
	got := crashListAll(t, s, 0, 1+c.rng.IntN(40))
	if !crashEqualKVs(want, got) {
		t.Fatalf("state at revision %d differs from the acknowledged history (-want +got):\n%s", rev, cmp.Diff(want, got))
	}

	// A write, then the change log from c.from up to it.
	resp, err := s.Txn(ctx, Txn{Ops: []Op{Put([]byte(crashSentinelKey), fmt.Appendf(nil, "after-%d", rev))}})
	if err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
	if resp.Revision != rev+1 {
		t.Fatalf("first write after recovery at revision %d, want %d", resp.Revision, rev+1)
	}
	held[crashSentinelOwner] = append(held[crashSentinelOwner], crashTxn{ops: []Op{Put([]byte(crashSentinelKey), fmt.Appendf(nil, "after-%d", rev))}, rev: resp.Revision})
	logged := crashWatchUntil(t, s, c.from, resp.Revision)
	claimed := make(map[int64]bool)
	for _, txns := range held {
		for _, tx := range txns {
			claimed[tx.rev] = true
		}
	}
	for _, owner := range deleteOnly {
		tx := &held[owner][len(held[owner])-1]
		for r, evs := range logged {
			if claimed[r] || len(evs) != len(tx.ops) {
				continue
			}
			match := true
			for i, ev := range evs {
				match = match && ev.Type == EventDelete && string(ev.KV.Key) == string(tx.ops[i].Key)
			}
			if match {
				tx.rev = r
			}
		}
		if tx.rev < 0 {
			// Not in the log after c.from: it must be older, and compacted.
			// Any unclaimed revision in (bound, from] orders it correctly.
			for r := tx.bound + 1; r <= c.from; r++ {
				if !claimed[r] {
					tx.rev = r
					break
				}
			}
		}
		claimed[tx.rev] = true
		if tx.rev <= tx.bound || tx.rev > rev {
			t.Fatalf("owner %d: surviving unacknowledged delete Txn found in the log at revision %d, want in (%d, %d]", owner, tx.rev, tx.bound, rev)
		}
	}
	_, wantEvents, err := held.replay(0)
	if err != nil {
		t.Fatal(err)
	}
	for r := range wantEvents {
		if r <= c.from {
			delete(wantEvents, r)
		}
	}
	if !crashEqualEvents(wantEvents, logged) {
		t.Fatalf("change log replayed from %d differs from the history (-want +got):\n%s", c.from, cmp.Diff(wantEvents, logged))
	}

	// A read at a past retained revision, and one before the compaction
	// point.
	oldest := max(compactRev, 1)
	at := oldest + c.rng.Int64N(resp.Revision-oldest+1)
	if want, got := crashWantState(t, held, at), crashListAll(t, s, at, 0); !crashEqualKVs(want, got) {
		t.Fatalf("state at past revision %d differs from the history (-want +got):\n%s", at, cmp.Diff(want, got))
	}
	if compactRev > 1 {
		if _, err := s.List(ctx, ListOptions{Revision: compactRev - 1}); !errors.Is(err, ErrCompacted) {
			t.Fatalf("list at %d, before the compaction point %d: got %v, want ErrCompacted", compactRev-1, compactRev, err)
		}
	}
	return held
}

// crashWantState is the key list the history h gives at revision at (0: all),
// in key order.
func crashWantState(t testing.TB, h crashHistory, at int64) []KeyValue {
	t.Helper()
	state, _, err := h.replay(at)
	if err != nil {
		t.Fatal(err)
	}
	kvs := make([]KeyValue, 0, len(state))
	for _, kv := range state {
		kvs = append(kvs, kv)
	}
	slices.SortFunc(kvs, func(a, b KeyValue) int { return strings.Compare(string(a.Key), string(b.Key)) })
	return kvs
}

// crashListAll lists every key at revision rev (0: current) in pages of limit
// (0: one page).
func crashListAll(t testing.TB, s *Store, rev int64, limit int) []KeyValue {
	t.Helper()
	kvs := []KeyValue{}
	opts := ListOptions{Limit: limit, Revision: rev}
	for {
		res, err := s.List(context.Background(), opts)
		if err != nil {
			t.Fatalf("list at %d after %q: %v", opts.Revision, opts.After, err)
		}
		kvs = append(kvs, res.KVs...)
		if !res.More {
			return kvs
		}
		opts.Revision, opts.After = res.Revision, res.KVs[len(res.KVs)-1].Key
	}
}

// crashWatchUntil watches every key from revision from and returns the events
// up to revision upTo by revision. upTo's write must be a single op.
func crashWatchUntil(t testing.TB, s *Store, from, upTo int64) map[int64][]Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := s.Watch(ctx, nil, from)
	if err != nil {
		t.Fatalf("watch from %d: %v", from, err)
	}
	events := make(map[int64][]Event)
	last := from
	deadline := time.After(30 * time.Second)
	for last < upTo {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch from %d ended at revision %d: %v", from, last, w.Err())
			}
			r := ev.KV.ModRevision
			if r <= from || r < last || r > upTo {
				t.Fatalf("watch from %d: event at revision %d after revision %d (want up to %d)", from, r, last, upTo)
			}
			last = r
			events[r] = append(events[r], ev)
		case <-deadline:
			t.Fatalf("watch from %d: only reached revision %d of %d within 30s", from, last, upTo)
		}
	}
	return events
}

// crashRecorder learns of a writer's Txns.
type crashRecorder interface {
	intent(owner int, ops []Op) error
	ack(owner int, rev int64) error
}

// crashWriter issues Txns on the keys of one owner: puts to new keys,
// overwrites and deletes guarded by ModRevisionIs, and multi-op Txns. Every
// value written is unique (tag, owner and a sequence number).
type crashWriter struct {
	s     *Store
	owner int
	tag   string
	rng   *rand.Rand
	rec   crashRecorder
	seq   int
	mods  [crashKeysPerOwner]int64 // mod revision of each key; 0: absent
}

// load reads the current mod revisions of the writer's keys.
func (w *crashWriter) load(ctx context.Context) error {
	for i := range w.mods {
		kv, err := w.s.Get(ctx, []byte(crashKey(w.owner, i)))
		switch {
		case err == nil:
			w.mods[i] = kv.ModRevision
		case errors.Is(err, ErrNotFound):
			w.mods[i] = 0
		default:
			return err
		}
	}
	return nil
}

func (w *crashWriter) value() []byte {
	w.seq++
	v := fmt.Appendf(nil, "%s-o%d-s%d-", w.tag, w.owner, w.seq)
	for n := w.rng.IntN(200); n > 0; n-- {
		v = append(v, 'a'+byte(w.rng.IntN(26)))
	}
	return v
}

// step issues one Txn and waits for it.
func (w *crashWriter) step(ctx context.Context) error {
	var idx []int
	if w.rng.IntN(100) < 15 {
		idx = w.rng.Perm(crashKeysPerOwner)[:2+w.rng.IntN(3)]
	} else {
		idx = []int{w.rng.IntN(crashKeysPerOwner)}
	}
	var t Txn
	for _, i := range idx {
		key := []byte(crashKey(w.owner, i))
		t.Compares = append(t.Compares, ModRevisionIs(key, w.mods[i]))
		if w.mods[i] != 0 && w.rng.IntN(100) < 30 {
			t.Ops = append(t.Ops, Delete(key))
		} else {
			t.Ops = append(t.Ops, Put(key, w.value()))
		}
	}
	if err := w.rec.intent(w.owner, t.Ops); err != nil {
		return err
	}
	resp, err := w.s.Txn(ctx, t)
	if err != nil {
		return fmt.Errorf("owner %d: txn: %w", w.owner, err)
	}
	if !resp.Changed {
		return fmt.Errorf("owner %d: txn at %d changed nothing", w.owner, resp.Revision)
	}
	for k, i := range idx {
		if t.Ops[k].Type == OpPut {
			w.mods[i] = resp.Revision
		} else {
			w.mods[i] = 0
		}
	}
	return w.rec.ack(w.owner, resp.Revision)
}

// crashMemRecorder records Txns in memory for the power-loss test.
type crashMemRecorder struct {
	mu      sync.Mutex
	hist    crashHistory
	maxAck  int64
	acks    atomic.Int64
	ackedCh chan struct{} // capacity 1: "acks grew"
}

func newCrashMemRecorder() *crashMemRecorder {
	return &crashMemRecorder{hist: newCrashHistory(), ackedCh: make(chan struct{}, 1)}
}

func (r *crashMemRecorder) intent(owner int, ops []Op) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hist.intent(owner, ops, r.maxAck)
}

func (r *crashMemRecorder) ack(owner int, rev int64) error {
	r.mu.Lock()
	err := r.hist.ack(owner, rev)
	r.maxAck = max(r.maxAck, rev)
	r.mu.Unlock()
	r.acks.Add(1)
	select {
	case r.ackedCh <- struct{}{}:
	default:
	}
	return err
}

// snapshot returns a copy of the history and the highest acknowledged
// revision.
func (r *crashMemRecorder) snapshot() (crashHistory, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hist.clone(), r.maxAck
}

// waitAcks waits until at least n Txns were acknowledged in all.
func (r *crashMemRecorder) waitAcks(t testing.TB, n int64, errc <-chan error) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for r.acks.Load() < n {
		select {
		case <-r.ackedCh:
		case err := <-errc:
			t.Fatalf("writer failed: %v", err)
		case <-deadline:
			t.Fatalf("only %d of %d Txns acknowledged within 20s", r.acks.Load(), n)
		}
	}
}

// syncHookFS calls a hook (if set) before every sync of a file or directory, so
// that a test can take a crash clone at each point where durability changes.
type syncHookFS struct {
	vfs.FS
	hook atomic.Pointer[func()]
}

func (fs *syncHookFS) beforeSync() {
	if h := fs.hook.Load(); h != nil {
		(*h)()
	}
}

func (fs *syncHookFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &syncHookFile{File: f, fs: fs}, nil
}

func (fs *syncHookFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.wrap(fs.FS.Create(name, category))
}

func (fs *syncHookFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	return fs.wrap(fs.FS.Open(name, opts...))
}

func (fs *syncHookFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return fs.wrap(fs.FS.OpenReadWrite(name, category, opts...))
}

func (fs *syncHookFS) OpenDir(name string) (vfs.File, error) {
	return fs.wrap(fs.FS.OpenDir(name))
}

func (fs *syncHookFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.wrap(fs.FS.ReuseForWrite(oldname, newname, category))
}

type syncHookFile struct {
	vfs.File
	fs *syncHookFS
}

func (f *syncHookFile) Sync() error {
	f.fs.beforeSync()
	return f.File.Sync()
}

func (f *syncHookFile) SyncData() error {
	f.fs.beforeSync()
	return f.File.SyncData()
}

func (f *syncHookFile) SyncTo(length int64) (bool, error) {
	f.fs.beforeSync()
	return f.File.SyncTo(length)
}

// crashEqualKVs is a fast equality of key lists (cmp.Diff explains a difference).
func crashEqualKVs(a, b []KeyValue) bool {
	return slices.EqualFunc(a, b, func(x, y KeyValue) bool {
		return bytes.Equal(x.Key, y.Key) && bytes.Equal(x.Value, y.Value) &&
			x.CreateRevision == y.CreateRevision && x.ModRevision == y.ModRevision && x.Version == y.Version
	})
}

func crashEqualEvents(a, b map[int64][]Event) bool {
	if len(a) != len(b) {
		return false
	}
	for r, evs := range a {
		other, ok := b[r]
		if !ok || len(evs) != len(other) {
			return false
		}
		for i, ev := range evs {
			if ev.Type != other[i].Type || !crashEqualKVs([]KeyValue{ev.KV}, []KeyValue{other[i].KV}) {
				return false
			}
		}
	}
	return true
}
