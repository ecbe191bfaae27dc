package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzStore decodes a sequence of operations from the fuzzer's bytes, runs
// it against a Store on an in-memory file system and checks every result
// against the in-memory model (model_test.go).
//
// Byte layout (see decodeOp): one header byte (config), then per operation
// one kind byte followed by the kind's fixed fields. Revisions are picked
// relative to the model's state (the compaction point, the current revision,
// the key's past revisions), so most inputs exercise meaningful cases.
func FuzzStore(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runFuzzSequence(t, data)
	})
}

// TestModelRandomSequences runs random byte sequences from a seeded RNG
// through the same checker as FuzzStore.
func TestModelRandomSequences(t *testing.T) {
	n := 100 // ~1 s, ~4 s under -race (on 2 CPUs)
	if testing.Short() {
		n = 25
	}
	rng := rand.New(rand.NewPCG(20240601, 7))
	for i := range n {
		data := randomSequence(rng, 30+rng.IntN(170))
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			runFuzzSequence(t, data)
		})
	}
}

// randomSequence returns n random bytes: every byte pattern decodes to a
// valid sequence, so plain random bytes give a broad mix of operations.
func randomSequence(rng *rand.Rand, n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(rng.UintN(256))
	}
	return data
}

// fuzzKeys is the key alphabet: small, so that keys collide, with 0x00 and
// 0xFF bytes (the escape and the escaped zero of the Pebble encoding) and
// keys that are prefixes of each other.
var fuzzKeys = [][]byte{
	[]byte("a"),
	[]byte("a\x00"),
	[]byte("a\x00b"),
	[]byte("a\x00\x00"),
	[]byte("a\x00\xff"),
	[]byte("a\xff"),
	[]byte("ab"),
	[]byte("abc"),
	[]byte("b"),
	[]byte("b\x00"),
	[]byte("\x00"),
	[]byte("\xff"),
	[]byte("\xff\xff"),
}

// fuzzPrefixes are the prefixes of List and Watch (plus one matching nothing).
var fuzzPrefixes = [][]byte{
	nil,
	[]byte("a"),
	[]byte("a\x00"),
	[]byte("a\x00\x00"),
	[]byte("a\x00b"),
	[]byte("a\xff"),
	[]byte("ab"),
	[]byte("b"),
	[]byte("\x00"),
	[]byte("\xff"),
	[]byte("\xff\xff"),
	[]byte("c"),
}

const maxFuzzOps = 256

// watchDeadline bounds every wait for watch events; it is only reached when
// the store is wrong.
const watchDeadline = 10 * time.Second

type opKind uint8

const (
	opTxn opKind = iota
	opGet
	opList
	opCompact
	opReopen
	opWatchNow
	opWatchLater
	opParallelPuts
)

// opKinds maps kind byte%16 to an op kind: the first index of each kind is
// what the seed builder writes.
var opKinds = [16]opKind{
	opTxn, opGet, opList, opCompact, opReopen, opWatchNow, opWatchLater, opParallelPuts,
	opTxn, opTxn, opTxn, opTxn, opGet, opList, opWatchLater, opTxn,
}

// fuzzOp is one decoded operation.
type fuzzOp struct {
	kind   opKind
	txn    Txn         // opTxn
	key    []byte      // opGet
	list   ListOptions // opList
	rev    int64       // opCompact target, opWatch* from
	prefix []byte      // opWatch*
	puts   []Txn       // opParallelPuts
}

func (o fuzzOp) String() string {
	switch o.kind {
	case opTxn:
		return "Txn" + fmtTxn(o.txn)
	case opGet:
		return fmt.Sprintf("Get(%q)", o.key)
	case opList:
		after := "nil"
		if o.list.After != nil {
			after = fmt.Sprintf("%q", o.list.After)
		}
		return fmt.Sprintf("List{Prefix: %q, After: %s, Limit: %d, Revision: %d}", o.list.Prefix, after, o.list.Limit, o.list.Revision)
	case opCompact:
		return fmt.Sprintf("Compact(%d)", o.rev)
	case opReopen:
		return "Reopen"
	case opWatchNow:
		return fmt.Sprintf("WatchNow(prefix %q, from %d)", o.prefix, o.rev)
	case opWatchLater:
		return fmt.Sprintf("WatchLater(prefix %q, from %d)", o.prefix, o.rev)
	case opParallelPuts:
		parts := make([]string, len(o.puts))
		for i, t := range o.puts {
			parts[i] = fmtTxn(t)
		}
		return "ParallelTxns[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("unknown op %d", o.kind)
}

func fmtTxn(t Txn) string {
	var b strings.Builder
	b.WriteString("{if")
	for _, c := range t.Compares {
		switch c.Target {
		case CompareModRevision:
			fmt.Fprintf(&b, " mod(%q)==%d", c.Key, c.Revision)
		case CompareCreateRevision:
			fmt.Fprintf(&b, " create(%q)==%d", c.Key, c.Revision)
		default:
			fmt.Fprintf(&b, " target%d(%q)==%d", c.Target, c.Key, c.Revision)
		}
	}
	b.WriteString(" then")
	for _, op := range t.Ops {
		switch op.Type {
		case OpPut:
			fmt.Fprintf(&b, " put(%q,%q)", op.Key, op.Value)
		case OpDelete:
			fmt.Fprintf(&b, " del(%q)", op.Key)
		default:
			fmt.Fprintf(&b, " op%d(%q)", op.Type, op.Key)
		}
	}
	b.WriteString("}")
	return b.String()
}

// decoder reads the fuzzer's bytes; past the end it reads zeros.
type decoder struct{ data []byte }

func (d *decoder) more() bool { return len(d.data) > 0 }

func (d *decoder) byte() byte {
	if len(d.data) == 0 {
		return 0
	}
	b := d.data[0]
	d.data = d.data[1:]
	return b
}

func revIn(lo, hi int64, arg byte) int64 {
	if hi <= lo {
		return lo
	}
	return lo + int64(arg)%(hi-lo+1)
}

func pickKey(b byte) []byte { return fuzzKeys[int(b)%len(fuzzKeys)] }

func pickPrefix(b byte) []byte { return fuzzPrefixes[int(b)%len(fuzzPrefixes)] }

// decodeOp decodes the next operation; its revisions are chosen relative to
// the model's current state.
func decodeOp(d *decoder, m *model) fuzzOp {
	op := fuzzOp{kind: opKinds[d.byte()%16]}
	switch op.kind {
	case opTxn:
		op.txn = decodeTxn(d, m)
	case opGet:
		b := d.byte()
		op.key = pickKey(b)
		if b >= 240 {
			op.key = []byte{} // invalid
		}
	case opList:
		op.list.Prefix = pickPrefix(d.byte())
		afterMode, afterArg := d.byte(), d.byte()
		switch afterMode % 8 {
		case 4:
			op.list.After = []byte{}
		case 5, 6:
			op.list.After = pickKey(afterArg)
		case 7:
			op.list.After = pickPrefix(afterArg)
		}
		limit := d.byte()
		op.list.Limit = int(limit % 5)
		if limit == 255 {
			op.list.Limit = -1 // invalid
		}
		op.list.Revision = pickReadRevision(m, d.byte(), d.byte())
	case opCompact:
		mode, arg := d.byte(), d.byte()
		switch mode % 8 {
		case 0: // below the compaction point
			if m.compactRev > 0 {
				op.rev = int64(arg) % m.compactRev
			} else {
				op.rev = 0
			}
		case 1:
			op.rev = m.compactRev
		case 2:
			op.rev = m.rev + 1 + int64(arg%3)
		default:
			op.rev = revIn(m.compactRev, m.rev, arg)
		}
	case opReopen:
	case opWatchNow, opWatchLater:
		op.prefix = pickPrefix(d.byte())
		mode, arg := d.byte(), d.byte()
		switch mode % 8 {
		case 0:
			op.rev = m.rev // from now, as the store documents: pass Revision()
		case 1: // compacted, if possible
			if m.compactRev > 0 {
				op.rev = revIn(0, m.compactRev-1, arg)
			} else {
				op.rev = revIn(m.compactRev, m.rev, arg)
			}
		default:
			op.rev = revIn(m.compactRev, m.rev, arg)
		}
	case opParallelPuts:
		n := 2 + int(d.byte()%5)
		for range n {
			key, val := d.byte(), d.byte()
			op.puts = append(op.puts, Txn{Ops: []Op{Put(pickKey(key), []byte{'p', val})}})
		}
	}
	return op
}

// decodeTxn: flags (0-3 compares, 0-3 ops, an invalid part if flags>>4 ==
// 15), then 3 bytes per compare, then per op a type/length byte, a key byte
// and 0-3 value bytes, then 2 bytes for the invalid part.
func decodeTxn(d *decoder, m *model) Txn {
	var t Txn
	flags := d.byte()
	nCmp, nOps, invalid := int(flags&3), int(flags>>2&3), flags>>4 == 15
	for range nCmp {
		key, sel, arg := pickKey(d.byte()), d.byte(), d.byte()
		c := Compare{Key: key, Target: CompareModRevision}
		switch sel % 3 {
		case 1:
			c.Target = CompareCreateRevision
		case 2:
			t.Compares = append(t.Compares, Absent(key))
			continue
		}
		switch (sel >> 2) % 4 {
		case 0, 1: // the right value
			if v, ok := m.current(key); ok {
				c.Revision = v.modRev
				if c.Target == CompareCreateRevision {
					c.Revision = v.createRev
				}
			}
		case 2: // one of the key's past revisions
			if revs := m.revisionsOf(key); len(revs) > 0 {
				c.Revision = revs[int(arg)%len(revs)]
			}
		case 3:
			c.Revision = revIn(0, m.rev+1, arg)
		}
		t.Compares = append(t.Compares, c)
	}
	for range nOps {
		tb, key := d.byte(), pickKey(d.byte())
		if tb%3 == 2 {
			t.Ops = append(t.Ops, Delete(key))
			continue
		}
		value := make([]byte, int(tb>>2)%4)
		for i := range value {
			value[i] = d.byte()
		}
		t.Ops = append(t.Ops, Put(key, value))
	}
	if invalid {
		mode, key := d.byte(), pickKey(d.byte())
		switch mode % 4 {
		case 0:
			t.Ops = append(t.Ops, Put([]byte{}, []byte("x")))
		case 1:
			t.Compares = append(t.Compares, Absent(nil))
		case 2:
			t.Compares = append(t.Compares, Compare{Key: key, Target: CompareModRevision, Revision: -1})
		case 3:
			t.Ops = append(t.Ops, Op{Type: 0, Key: key})
		}
	}
	return t
}

// pickReadRevision picks a List revision: current (0), retained, the
// compaction point, compacted or future.
func pickReadRevision(m *model, mode, arg byte) int64 {
	switch mode % 8 {
	case 0, 1:
		return 0
	case 5:
		return m.compactRev
	case 6:
		if m.compactRev > 1 {
			return revIn(1, m.compactRev-1, arg)
		}
		return revIn(m.compactRev, m.rev, arg)
	case 7:
		return m.rev + 1 + int64(arg%3)
	default:
		return revIn(m.compactRev, m.rev, arg)
	}
}

// fuzzHarness runs one sequence against a store and the model.
type fuzzHarness struct {
	t       testing.TB
	cfg     Config
	s       *Store // nil while closed
	m       *model
	ops     []fuzzOp // decoded so far; the last one is running
	final   bool     // running the final checks
	watches []*laterWatch
}

// laterWatch is a watch opened by opWatchLater whose events are collected
// in the background and checked at the next Reopen or at the end.
type laterWatch struct {
	opIndex int
	prefix  []byte
	from    int64
	cancel  context.CancelFunc
	w       *Watch

	mu     sync.Mutex
	events []Event
	grew   chan struct{} // capacity 1
	done   chan struct{} // closed when the watch's channel is closed
}

func (lw *laterWatch) collect() {
	defer close(lw.done)
	for ev := range lw.w.Events() {
		lw.mu.Lock()
		lw.events = append(lw.events, ev)
		lw.mu.Unlock()
		select {
		case lw.grew <- struct{}{}:
		default:
		}
	}
}

func (lw *laterWatch) snapshot() []Event {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return slices.Clone(lw.events)
}

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func runFuzzSequence(t testing.TB, data []byte) {
	d := &decoder{data: data}
	hdr := d.byte()
	cfg := Config{
		Path:                "/wask-store",
		CacheSize:           1 << 20,
		NoSync:              hdr&1 != 0,
		CompactionInterval:  -1,
		WatchCacheRevisions: []int{4096, 1, 2, 8}[hdr>>1&3],
		Logger:              discardLogger,
		fs:                  vfs.NewMem(),
	}
	if hdr&8 != 0 {
		cfg.MemTableSize = 32 << 10 // small memtables: flushes to sstables
	}
	h := &fuzzHarness{t: t, cfg: cfg, m: newModel()}
	defer h.teardown()
	h.open()
	for len(h.ops) < maxFuzzOps && d.more() {
		op := decodeOp(d, h.m)
		h.ops = append(h.ops, op)
		h.exec(op)
		h.checkRevisions()
	}
	h.final = true
	h.checkAll(false)
	h.finishLaterWatches() // closes the store
	h.open()
	h.checkAll(true)
}

func (h *fuzzHarness) fatalf(format string, args ...any) {
	h.t.Helper()
	where := "final check"
	if !h.final && len(h.ops) > 0 {
		where = fmt.Sprintf("op %d: %s", len(h.ops)-1, h.ops[len(h.ops)-1])
	}
	var dump strings.Builder
	fmt.Fprintf(&dump, "config: NoSync=%v WatchCacheRevisions=%d MemTableSize=%d\n", h.cfg.NoSync, h.cfg.WatchCacheRevisions, h.cfg.MemTableSize)
	for i, op := range h.ops {
		fmt.Fprintf(&dump, "  %3d %s\n", i, op)
	}
	h.t.Fatalf("%s\n%s\nmodel: revision %d, compacted to %d\nsequence:\n%s",
		where, fmt.Sprintf(format, args...), h.m.rev, h.m.compactRev, dump.String())
}

func (h *fuzzHarness) open() {
	h.t.Helper()
	s, err := Open(h.cfg)
	if err != nil {
		h.fatalf("Open: %v", err)
	}
	h.s = s
	h.checkRevisions()
}

func (h *fuzzHarness) close() {
	h.t.Helper()
	s := h.s
	h.s = nil
	if err := s.Close(); err != nil {
		h.fatalf("Close: %v", err)
	}
}

func (h *fuzzHarness) teardown() {
	for _, lw := range h.watches {
		lw.cancel()
	}
	if h.s != nil {
		h.s.Close()
	}
	for _, lw := range h.watches {
		<-lw.done
	}
}

func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), watchDeadline)
}

func (h *fuzzHarness) checkRevisions() {
	h.t.Helper()
	if got := h.s.Revision(); got != h.m.rev {
		h.fatalf("Revision() = %d, model %d", got, h.m.rev)
	}
	if got := h.s.CompactRevision(); got != h.m.compactRev {
		h.fatalf("CompactRevision() = %d, model %d", got, h.m.compactRev)
	}
}

// check compares a result and error with the model's.
func (h *fuzzHarness) check(what string, got any, gotErr error, want any, wantErr error) {
	h.t.Helper()
	if diff := cmp.Diff(classify(wantErr), classify(gotErr)); diff != "" {
		h.fatalf("%s: error mismatch (-model +store):\n%s\nstore error: %v", what, diff, gotErr)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		h.fatalf("%s: result mismatch (-model +store):\n%s", what, diff)
	}
}

func (h *fuzzHarness) exec(op fuzzOp) {
	h.t.Helper()
	ctx, cancel := opContext()
	defer cancel()
	switch op.kind {
	case opTxn:
		resp, err := h.s.Txn(ctx, op.txn)
		want, _, wantErr := h.m.txn(op.txn)
		h.check("Txn", resp, err, want, wantErr)
	case opGet:
		kv, err := h.s.Get(ctx, op.key)
		want, wantErr := h.m.get(op.key)
		h.check("Get", kv, err, want, wantErr)
	case opList:
		res, err := h.s.List(ctx, op.list)
		want, wantErr := h.m.list(op.list)
		h.check("List", res, err, want, wantErr)
	case opCompact:
		err := h.s.Compact(ctx, op.rev)
		wantErr := h.m.compact(op.rev)
		h.check("Compact", nil, err, nil, wantErr)
	case opReopen:
		h.finishLaterWatches()
		h.open()
		h.checkAll(false)
	case opWatchNow:
		h.watchNow(op.prefix, op.rev)
	case opWatchLater:
		h.watchLater(op.prefix, op.rev)
	case opParallelPuts:
		h.parallelPuts(ctx, op.puts)
	}
}

// parallelPuts runs unconditional Txns concurrently (group commit) and
// applies them to the model in the order of the revisions they got.
func (h *fuzzHarness) parallelPuts(ctx context.Context, txns []Txn) {
	h.t.Helper()
	type result struct {
		resp TxnResponse
		err  error
	}
	results := make([]result, len(txns))
	var wg sync.WaitGroup
	for i := range txns {
		wg.Go(func() {
			results[i].resp, results[i].err = h.s.Txn(ctx, txns[i])
		})
	}
	wg.Wait()
	order := make([]int, len(txns))
	for i := range order {
		order[i] = i
		if results[i].err != nil {
			h.fatalf("parallel Txn %d: %v", i, results[i].err)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return int(results[a].resp.Revision - results[b].resp.Revision) })
	for _, i := range order {
		want, _, wantErr := h.m.txn(txns[i])
		h.check(fmt.Sprintf("parallel Txn %d (applied in revision order)", i), results[i].resp, results[i].err, want, wantErr)
	}
}

// readEvents reads n events from w within the deadline.
func (h *fuzzHarness) readEvents(w *Watch, n int) ([]Event, error) {
	timer := time.NewTimer(watchDeadline)
	defer timer.Stop()
	var got []Event
	for len(got) < n {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return got, fmt.Errorf("watch ended after %d of %d events: %v", len(got), n, w.Err())
			}
			got = append(got, ev)
		case <-timer.C:
			return got, fmt.Errorf("only %d of %d events within %v", len(got), n, watchDeadline)
		}
	}
	return got, nil
}

// drain cancels a watch and returns the events still delivered and its error.
func drain(w *Watch, cancel context.CancelFunc) ([]Event, error, bool) {
	cancel()
	timer := time.NewTimer(watchDeadline)
	defer timer.Stop()
	var extra []Event
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return extra, w.Err(), true
			}
			extra = append(extra, ev)
		case <-timer.C:
			return extra, nil, false
		}
	}
}

// watchNow opens a watch and reads the events the model says it must
// deliver right away, then cancels it.
func (h *fuzzHarness) watchNow(prefix []byte, from int64) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := h.s.Watch(ctx, prefix, from)
	wantErr := h.m.checkWatch(from)
	h.check("Watch", nil, err, nil, wantErr)
	if err != nil {
		return
	}
	want := h.m.events(prefix, from)
	got, err := h.readEvents(w, len(want))
	if err != nil {
		h.fatalf("Watch: %v\ngot events: %s\nwant events: %s", err, fmtEvents(got), fmtEvents(want))
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		h.fatalf("Watch: events mismatch (-model +store):\n%s", diff)
	}
	extra, err, ended := drain(w, cancel)
	if !ended {
		h.fatalf("Watch did not end within %v of its cancellation", watchDeadline)
	}
	if len(extra) > 0 {
		h.fatalf("Watch delivered events beyond the model's: %s", fmtEvents(extra))
	}
	if !errors.Is(err, context.Canceled) {
		h.fatalf("cancelled Watch ended with %v, want context.Canceled", err)
	}
}

func (h *fuzzHarness) watchLater(prefix []byte, from int64) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := h.s.Watch(ctx, prefix, from)
	if err != nil {
		cancel()
	}
	h.check("Watch", nil, err, nil, h.m.checkWatch(from))
	if err != nil {
		cancel() // for vet: the check above may not return
		return
	}
	lw := &laterWatch{
		opIndex: len(h.ops) - 1,
		prefix:  prefix,
		from:    from,
		cancel:  cancel,
		w:       w,
		grew:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	h.watches = append(h.watches, lw)
	go lw.collect()
}

// finishLaterWatches waits for every later watch to deliver what the model
// expects, closes the store, and checks that each delivered exactly that
// and ended with ErrClosed. A watch still catching up from the change log
// may instead have been cut off with ErrCompacted by a compaction past its
// start: then its events must be a prefix of the expected ones.
func (h *fuzzHarness) finishLaterWatches() {
	h.t.Helper()
	deadline := time.NewTimer(watchDeadline)
	defer deadline.Stop()
	wants := make([][]Event, len(h.watches))
	for i, lw := range h.watches {
		wants[i] = h.m.events(lw.prefix, lw.from)
	wait:
		for len(lw.snapshot()) < len(wants[i]) {
			select {
			case <-lw.grew:
			case <-lw.done:
				break wait
			case <-deadline.C:
				got := lw.snapshot()
				h.fatalf("WatchLater of op %d (prefix %q, from %d): only %d of %d events within %v\ngot: %s\nwant: %s",
					lw.opIndex, lw.prefix, lw.from, len(got), len(wants[i]), watchDeadline, fmtEvents(got), fmtEvents(wants[i]))
			}
		}
	}
	h.close()
	for i, lw := range h.watches {
		select {
		case <-lw.done:
		case <-deadline.C:
			h.fatalf("WatchLater of op %d did not end within %v of Close", lw.opIndex, watchDeadline)
		}
		lw.cancel()
		got, err := lw.snapshot(), lw.w.Err()
		want := wants[i]
		what := fmt.Sprintf("WatchLater of op %d (prefix %q, from %d)", lw.opIndex, lw.prefix, lw.from)
		if errors.Is(err, ErrCompacted) && h.m.compactRev > lw.from && len(got) <= len(want) {
			want = want[:len(got)]
		} else if !errors.Is(err, ErrClosed) {
			h.fatalf("%s ended with %v, want ErrClosed\ngot: %s\nwant: %s", what, err, fmtEvents(got), fmtEvents(want))
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			h.fatalf("%s: events mismatch (-model +store):\n%s", what, diff)
		}
	}
	h.watches = nil
}

// checkAll compares the whole readable state with the model: every key,
// Lists at retained revisions (all of them if full, else a sample), a List
// just below the compaction point, and a watch replaying the retained log.
func (h *fuzzHarness) checkAll(full bool) {
	h.t.Helper()
	ctx, cancel := opContext()
	defer cancel()
	for _, key := range fuzzKeys {
		kv, err := h.s.Get(ctx, key)
		want, wantErr := h.m.get(key)
		h.check(fmt.Sprintf("Get(%q)", key), kv, err, want, wantErr)
	}
	lo := max(h.m.compactRev, 1)
	revs := []int64{0, h.m.compactRev, h.m.compactRev - 1, lo, h.m.rev, (lo + h.m.rev) / 2, h.m.rev + 1}
	if full {
		step := max(1, (h.m.rev-lo)/32) // at most ~33 Lists
		for r := lo; r <= h.m.rev; r += step {
			revs = append(revs, r)
		}
	}
	for _, r := range revs {
		if r < 0 {
			continue
		}
		opts := ListOptions{Revision: r}
		res, err := h.s.List(ctx, opts)
		want, wantErr := h.m.list(opts)
		h.check(fmt.Sprintf("List(Revision %d)", r), res, err, want, wantErr)
	}
	h.watchNow(nil, h.m.compactRev)
}

func fmtEvents(evs []Event) string {
	if len(evs) == 0 {
		return "[]"
	}
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n    %s %q=%q create=%d mod=%d version=%d", ev.Type, ev.KV.Key, ev.KV.Value, ev.KV.CreateRevision, ev.KV.ModRevision, ev.KV.Version)
	}
	return b.String()
}

// seedBuilder writes the bytes that decodeOp decodes, for readable seeds.
type seedBuilder struct{ b []byte }

func newSeed(hdr byte) *seedBuilder { return &seedBuilder{b: []byte{hdr}} }

// Seed header bits (see runFuzzSequence).
const (
	hdrNoSync      = 1
	hdrRing1       = 1 << 1 // WatchCacheRevisions 1
	hdrRing2       = 2 << 1 // WatchCacheRevisions 2
	hdrRing8       = 3 << 1 // WatchCacheRevisions 8
	hdrSmallMemtab = 1 << 3
)

// Compare selectors: target | mode<<2 (see decodeTxn).
const (
	cmpModRight     = 0
	cmpCreateRight  = 1
	cmpAbsent       = 2
	cmpModPast      = 2<<2 | 0
	cmpCreatePast   = 2<<2 | 1
	cmpModRandom    = 3<<2 | 0
	cmpCreateRandom = 3<<2 | 1
)

// Revision modes of List (pickReadRevision), Compact and Watch (decodeOp).
const (
	revCurrent      = 0
	revRetained     = 2 // compaction point + arg % span
	revCompactPoint = 5
	revCompacted    = 6
	revFuture       = 7

	compactBelow  = 0
	compactSame   = 1
	compactFuture = 2
	compactTo     = 3 // compaction point + arg % span

	watchFromNow      = 0
	watchCompacted    = 1
	watchFromRetained = 2 // compaction point + arg % span
)

type seedCmp struct {
	key      string
	sel, arg byte
}

type seedOp struct {
	del        bool
	key, value string
}

func indexOf(list [][]byte, s string) byte {
	for i, k := range list {
		if string(k) == s {
			return byte(i)
		}
	}
	panic(fmt.Sprintf("seed: %q is not in the alphabet", s))
}

func keyIndex(k string) byte    { return indexOf(fuzzKeys, k) }
func prefixIndex(p string) byte { return indexOf(fuzzPrefixes, p) }

func (s *seedBuilder) kind(k opKind) {
	s.b = append(s.b, byte(slices.Index(opKinds[:], k)))
}

func (s *seedBuilder) txn(cmps []seedCmp, ops []seedOp) *seedBuilder {
	s.kind(opTxn)
	s.b = append(s.b, byte(len(cmps))|byte(len(ops))<<2)
	for _, c := range cmps {
		s.b = append(s.b, keyIndex(c.key), c.sel, c.arg)
	}
	for _, op := range ops {
		if op.del {
			s.b = append(s.b, 2, keyIndex(op.key))
			continue
		}
		tb := byte(len(op.value) << 2)
		for tb%3 == 2 {
			tb += 16
		}
		s.b = append(s.b, tb, keyIndex(op.key))
		s.b = append(s.b, op.value...)
	}
	return s
}

func (s *seedBuilder) put(k, v string) *seedBuilder {
	return s.txn(nil, []seedOp{{key: k, value: v}})
}

func (s *seedBuilder) del(k string) *seedBuilder {
	return s.txn(nil, []seedOp{{del: true, key: k}})
}

// invalidTxn adds an invalid part (mode 0-3, see decodeTxn) to a txn with
// one put.
func (s *seedBuilder) invalidTxn(mode byte, key string) *seedBuilder {
	s.kind(opTxn)
	s.b = append(s.b, 0xF0|1<<2, 4, keyIndex("b"), 'v', mode, keyIndex(key))
	return s
}

func (s *seedBuilder) get(k string) *seedBuilder {
	s.kind(opGet)
	s.b = append(s.b, keyIndex(k))
	return s
}

// list: after "-" is nil, "" is empty, else a key or prefix of the alphabet.
func (s *seedBuilder) list(prefix, after string, limit, revMode, revArg byte) *seedBuilder {
	s.kind(opList)
	s.b = append(s.b, prefixIndex(prefix))
	switch {
	case after == "-":
		s.b = append(s.b, 0, 0)
	case after == "":
		s.b = append(s.b, 4, 0)
	case slices.ContainsFunc(fuzzKeys, func(k []byte) bool { return string(k) == after }):
		s.b = append(s.b, 5, keyIndex(after))
	default:
		s.b = append(s.b, 7, prefixIndex(after))
	}
	s.b = append(s.b, limit, revMode, revArg)
	return s
}

func (s *seedBuilder) compact(mode, arg byte) *seedBuilder {
	s.kind(opCompact)
	s.b = append(s.b, mode, arg)
	return s
}

func (s *seedBuilder) reopen() *seedBuilder {
	s.kind(opReopen)
	return s
}

func (s *seedBuilder) watch(later bool, prefix string, mode, arg byte) *seedBuilder {
	if later {
		s.kind(opWatchLater)
	} else {
		s.kind(opWatchNow)
	}
	s.b = append(s.b, prefixIndex(prefix), mode, arg)
	return s
}

func (s *seedBuilder) parallel(keys ...string) *seedBuilder {
	s.kind(opParallelPuts)
	s.b = append(s.b, byte(len(keys)-2))
	for i, k := range keys {
		s.b = append(s.b, keyIndex(k), byte(i))
	}
	return s
}

func (s *seedBuilder) putAll(v string) *seedBuilder {
	for _, k := range fuzzKeys {
		s.put(string(k), v)
	}
	return s
}

func fuzzSeeds() [][]byte {
	var seeds [][]byte

	// Puts, updates, deletes, re-creates; Get and List in every shape.
	s := newSeed(0)
	s.putAll("1")
	s.put("a", "2").put("a\x00", "").put("ab", "22").del("b").del("b")
	s.txn(nil, nil) // changes nothing
	s.del("\xff")
	s.txn(nil, []seedOp{{del: true, key: "\xff"}}) // absent now: no-op
	s.put("\xff", "back")                          // version resets
	s.txn(nil, []seedOp{{key: "a", value: "3"}, {del: true, key: "a\x00b"}, {key: "b", value: "new"}})
	for _, k := range fuzzKeys {
		s.get(string(k))
	}
	for _, p := range fuzzPrefixes {
		s.list(string(p), "-", 0, revCurrent, 0)
		s.list(string(p), "-", 2, revCurrent, 0)
	}
	s.list("a", "a", 0, revCurrent, 0).list("a", "a\x00", 2, revCurrent, 0).list("", "", 3, revCurrent, 0)
	s.list("a\x00", "a\x00\x00", 1, revCurrent, 0).list("", "ab", 0, revCurrent, 0)
	for r := range byte(20) {
		s.list("", "-", r%4, revRetained, r)
		s.list("a", "a\x00", 1, revRetained, r*3)
	}
	s.list("", "-", 0, revFuture, 0).list("b", "-", 255, revCurrent, 0)
	s.watch(false, "a", watchFromRetained, 1).watch(false, "", watchFromRetained, 7)
	s.watch(false, "a\x00", watchFromRetained, 3)
	seeds = append(seeds, s.b)

	// Compares: right, stale, absent, first failing index, invalid txns.
	s = newSeed(hdrNoSync)
	s.put("a", "1").put("b", "1").put("a", "2")
	s.txn([]seedCmp{{"a", cmpModRight, 0}, {"b", cmpCreateRight, 0}}, []seedOp{{key: "a", value: "ok"}})
	s.txn([]seedCmp{{"a", cmpModPast, 0}}, []seedOp{{key: "a", value: "stale"}})
	s.txn([]seedCmp{{"ab", cmpAbsent, 0}, {"a", cmpAbsent, 0}, {"b", cmpAbsent, 0}}, []seedOp{{key: "ab", value: "x"}})
	s.txn([]seedCmp{{"ab", cmpAbsent, 0}}, []seedOp{{key: "ab", value: "created"}})
	s.txn([]seedCmp{{"a", cmpCreatePast, 1}, {"ab", cmpModRandom, 9}}, []seedOp{{del: true, key: "a"}, {key: "b", value: "z"}})
	s.txn([]seedCmp{{"a", cmpAbsent, 0}}, []seedOp{{key: "a", value: "again"}})
	s.txn([]seedCmp{{"a", cmpCreateRight, 0}, {"a", cmpModRight, 0}, {"a\x00", cmpCreateRandom, 3}}, nil)
	s.txn([]seedCmp{{"a", cmpModRight, 0}}, nil)
	s.txn(nil, []seedOp{{key: "a", value: "1"}, {del: true, key: "a"}}) // duplicate key
	s.invalidTxn(0, "a").invalidTxn(1, "a").invalidTxn(2, "b").invalidTxn(3, "b")
	s.get("a").get("ab").list("", "-", 0, revCurrent, 0)
	for i := range byte(10) {
		s.txn([]seedCmp{{"a", cmpModRandom, i}, {"b", cmpModRight, 0}}, []seedOp{{key: "b", value: string([]byte{i})}})
		s.txn([]seedCmp{{"b", cmpCreatePast, i}}, []seedOp{{del: true, key: "b"}, {key: "a\xff", value: "y"}})
	}
	s.watch(false, "", watchFromRetained, 2)
	seeds = append(seeds, s.b)

	// Compaction: reads and watches around the compaction point, restarts.
	s = newSeed(hdrSmallMemtab)
	for i := range 6 {
		s.putAll(fmt.Sprint(i))
		s.del("a").del("a\x00b").put("b", "x")
	}
	s.compact(compactTo, 40)
	s.list("", "-", 0, revCompacted, 3).list("", "-", 0, revCompactPoint, 0).list("a", "-", 2, revRetained, 17)
	s.compact(compactSame, 0).compact(compactBelow, 5).compact(compactFuture, 0)
	s.watch(false, "", watchCompacted, 9).watch(false, "a", watchFromRetained, 0)
	s.watch(true, "a", watchFromRetained, 4).watch(true, "", watchFromNow, 0)
	s.put("a", "after").del("b").reopen()
	s.list("", "-", 0, revCompacted, 1).get("a").get("b")
	s.compact(compactTo, 200).put("b", "again").del("ab").compact(compactTo, 255)
	s.reopen().list("", "-", 0, revRetained, 2).watch(false, "", watchFromRetained, 0)
	seeds = append(seeds, s.b)

	// Watches across restarts with a tiny ring, and group commit.
	s = newSeed(hdrRing1)
	s.watch(true, "", watchFromNow, 0).watch(true, "a\x00", watchFromNow, 0)
	s.putAll("w").parallel("a", "b", "a", "ab", "\xff")
	s.watch(true, "a", watchFromRetained, 3).watch(true, "\xff", watchFromRetained, 0)
	s.del("a").del("a\x00").parallel("a\x00", "a\x00b", "b")
	s.reopen()
	s.watch(true, "", watchFromRetained, 5).watch(false, "a", watchFromRetained, 1)
	s.parallel("a", "a", "a", "a", "a", "a").del("\xff\xff").put("\xff\xff", "z")
	s.compact(compactTo, 3).watch(true, "", watchFromRetained, 0).parallel("b", "b\x00")
	seeds = append(seeds, s.b)

	s = newSeed(hdrRing2 | hdrNoSync)
	for i := range 30 {
		s.watch(true, string(fuzzPrefixes[i%len(fuzzPrefixes)]), watchFromRetained, byte(i*7))
		s.put(string(fuzzKeys[i%len(fuzzKeys)]), fmt.Sprint(i))
		if i%3 == 0 {
			s.del(string(fuzzKeys[(i+5)%len(fuzzKeys)]))
		}
		if i%10 == 9 {
			s.compact(compactTo, byte(i)).reopen()
		}
	}
	seeds = append(seeds, s.b)

	// Long random sequences.
	rng := rand.New(rand.NewPCG(1, 2))
	for _, hdr := range []byte{0, hdrRing8 | hdrNoSync, hdrSmallMemtab | hdrRing1} {
		data := randomSequence(rng, 600)
		data[0] = hdr
		seeds = append(seeds, data)
	}
	return seeds
}
