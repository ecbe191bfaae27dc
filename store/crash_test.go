package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

var (
	crashKills      = flag.Int("store.crash-kills", 20, "number of SIGKILL cycles of TestCrashSIGKILL")
	powerLossClones = flag.Int("store.power-loss-clones", 60, "number of crash clones of TestPowerLoss")
	crashSeed       = flag.Uint64("store.crash-seed", 0, "seed of the crash tests (0: random)")
)

func crashTestSeed(t *testing.T) uint64 {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -store.crash-seed=%d)", seed, seed)
	return seed
}

func crashDiscardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Environment of the child process of TestCrashSIGKILL.
const (
	crashChildDirEnv   = "WASK_STORE_CRASH_CHILD"
	crashChildCycleEnv = "WASK_STORE_CRASH_CYCLE"
	crashChildSeedEnv  = "WASK_STORE_CRASH_SEED"
)

// TestCrashSIGKILL runs writers in a child process, kills it with SIGKILL
// at a random moment, reopens the store and checks that it holds every
// acknowledged write (and of the unacknowledged ones, per writer at most
// its last, whole), that its revision never went back, and that its change
// log replays exactly the history since the previous cycle. The next cycle's
// child continues on the same directory.
//
// The child reports on stdout, one line each, every Txn before it issues it
// ("@I owner ops") and after it is acknowledged ("@A owner revision"). It
// also compacts now and then ("@C rev" before, "@CD rev" after), so kills
// interrupt compactions too: the reopened store must have the old or the
// new compaction point and read correctly at every retained revision.
func TestCrashSIGKILL(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SIGKILL test runs on Linux only")
	}
	if testing.Short() {
		t.Skip("slow crash test skipped in -short mode")
	}
	seed := crashTestSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	cfg := Config{Path: t.TempDir(), CompactionInterval: -1, Logger: crashDiscardLogger()}

	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hist := newCrashHistory()
	ops := []Op{Put([]byte(crashSentinelKey), []byte("start"))}
	resp, err := s.Txn(context.Background(), Txn{Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	hist[crashSentinelOwner] = []crashTxn{{ops: ops, rev: resp.Revision}}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checked := resp.Revision // revision up to which the history is checked

	var acked, survived, lost, compactions int
	var compacted int64 // the store's compaction point
	for cycle := range *crashKills {
		readyRev, lines := runChildUntilKilled(t, cfg.Path, cycle, seed, rng)
		if readyRev != checked {
			t.Fatalf("cycle %d: child opened the store at revision %d, want %d", cycle, readyRev, checked)
		}
		h := hist.clone()
		maxAck := checked
		compactRevs := []int64{compacted} // the compaction points the store may recover
		for _, line := range lines {
			if rev, ok := strings.CutPrefix(line, "@C "); ok {
				compactRevs = []int64{compacted, atoi64(t, rev)}
				continue
			}
			if rev, ok := strings.CutPrefix(line, "@CD "); ok {
				compacted = atoi64(t, rev)
				compactRevs = []int64{compacted}
				compactions++
				continue
			}
			if err := parseChildLine(h, line, &maxAck); err != nil {
				t.Fatalf("cycle %d: child line %q: %v", cycle, line, err)
			}
			if strings.HasPrefix(line, "@A ") {
				acked++
			}
		}
		s, err := Open(cfg)
		if err != nil {
			t.Fatalf("cycle %d: reopen after SIGKILL: %v", cycle, err)
		}
		// The change log is checked from the last checked revision, or from
		// the compaction point if the child compacted past it.
		from := max(checked, s.CompactRevision())
		held := checkCrashRecovered(t, s, crashRecoveryCheck{hist: h, mustRev: maxAck, from: from, compactRevs: compactRevs, rng: rng})
		compacted = s.CompactRevision()
		for owner, txns := range h {
			if n := len(txns); n > 0 && txns[n-1].rev == 0 { // in flight at the kill
				if len(held[owner]) == n {
					survived++
				} else {
					lost++
				}
			}
		}
		hist, checked = held, s.Revision()
		if err := s.Close(); err != nil {
			t.Fatalf("cycle %d: close: %v", cycle, err)
		}
	}
	t.Logf("%d kills: %d acknowledged Txns all survived; of the Txns in flight at the kill %d survived, %d were lost; %d compactions; final revision %d, compacted to %d",
		*crashKills, acked, survived, lost, compactions, checked, compacted)
	if acked == 0 {
		t.Fatalf("no Txn was acknowledged before any kill: the test tested nothing")
	}
}

// runChildUntilKilled starts a child writing to dir, kills it with SIGKILL
// a random 5–100 ms after it is ready, and returns the revision it opened
// the store at and the lines it reported after that.
func runChildUntilKilled(t *testing.T, dir string, cycle int, seed uint64, rng *rand.Rand) (int64, []string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSIGKILLChild$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(),
		crashChildDirEnv+"="+dir,
		crashChildCycleEnv+"="+strconv.Itoa(cycle),
		crashChildSeedEnv+"="+strconv.FormatUint(seed, 10))
	var stderr bytes.Buffer // read only after Wait
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The child exits when its stdin closes, so it cannot outlive us.
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := false
	defer func() { // also on t.Fatal: never leave the child running or unreaped
		if !reaped {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	var (
		mu       sync.Mutex
		lines    []string
		readErr  error
		ready    = make(chan int64, 1)
		finished = make(chan struct{})
	)
	go func() {
		defer close(finished)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				if line != "" || !errors.Is(err, io.EOF) {
					mu.Lock()
					readErr = fmt.Errorf("read child output: %v (partial line %q)", err, line)
					mu.Unlock()
				}
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if rev, ok := strings.CutPrefix(line, "@READY "); ok {
				n, err := strconv.ParseInt(rev, 10, 64)
				if err != nil {
					n = -1
				}
				ready <- n
				continue
			}
			if strings.HasPrefix(line, "@") {
				mu.Lock()
				lines = append(lines, line)
				mu.Unlock()
			}
		}
	}()
	failChild := func(format string, args ...any) {
		t.Helper()
		cmd.Process.Kill()
		<-finished
		cmd.Wait()
		reaped = true
		t.Fatalf("cycle %d: %s; child stderr:\n%s", cycle, fmt.Sprintf(format, args...), stderr.String())
	}

	var readyRev int64
	select {
	case readyRev = <-ready:
	case <-finished:
		failChild("child exited before it was ready")
	case <-time.After(60 * time.Second):
		failChild("child not ready within 60s")
	}
	select {
	case <-time.After(time.Duration(5+rng.IntN(96)) * time.Millisecond): // the random kill moment
	case <-finished:
		failChild("child exited before it was killed")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		failChild("kill: %v", err)
	}
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		failChild("child output not closed within 30s of SIGKILL")
	}
	err = cmd.Wait()
	reaped = true
	if cmd.ProcessState == nil || cmd.ProcessState.Exited() {
		t.Fatalf("cycle %d: child was not killed but exited: %v; stderr:\n%s", cycle, err, stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if readErr != nil {
		t.Fatalf("cycle %d: %v", cycle, readErr)
	}
	return readyRev, lines
}

func atoi64(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("child line: bad number %q", s)
	}
	return n
}

// parseChildLine records one "@I" or "@A" line of the child in h.
func parseChildLine(h crashHistory, line string, maxAck *int64) error {
	f := strings.Fields(line)
	if len(f) < 3 {
		return errors.New("too few fields")
	}
	owner, err := strconv.Atoi(f[1])
	if err != nil || owner < 0 || owner >= crashWriters {
		return fmt.Errorf("bad owner %q", f[1])
	}
	switch f[0] {
	case "@I":
		var ops []Op
		for _, op := range f[2:] {
			parts := strings.Split(op, ":")
			switch {
			case len(parts) == 3 && parts[0] == "P":
				ops = append(ops, Put([]byte(parts[1]), []byte(parts[2])))
			case len(parts) == 2 && parts[0] == "D":
				ops = append(ops, Delete([]byte(parts[1])))
			default:
				return fmt.Errorf("bad op %q", op)
			}
		}
		return h.intent(owner, ops, *maxAck)
	case "@A":
		rev, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || len(f) != 3 {
			return fmt.Errorf("bad ack")
		}
		*maxAck = max(*maxAck, rev)
		return h.ack(owner, rev)
	}
	return fmt.Errorf("unknown line type %q", f[0])
}

// crashLineRecorder reports a writer's Txns on stdout, one write per line (a
// pipe write of at most PIPE_BUF bytes is atomic, so a kill never leaves
// half a line).
type crashLineRecorder struct{ mu sync.Mutex }

func (r *crashLineRecorder) write(b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(b) > 4096 {
		return fmt.Errorf("line of %d bytes is too long to be written atomically", len(b))
	}
	_, err := os.Stdout.Write(b)
	return err
}

func (r *crashLineRecorder) intent(owner int, ops []Op) error {
	b := fmt.Appendf(nil, "@I %d", owner)
	for _, op := range ops {
		if op.Type == OpPut {
			b = fmt.Appendf(b, " P:%s:%s", op.Key, op.Value)
		} else {
			b = fmt.Appendf(b, " D:%s", op.Key)
		}
	}
	return r.write(append(b, '\n'))
}

func (r *crashLineRecorder) ack(owner int, rev int64) error {
	return r.write(fmt.Appendf(nil, "@A %d %d\n", owner, rev))
}

// TestCrashSIGKILLChild is the child process of TestCrashSIGKILL: it writes
// until it is killed.
func TestCrashSIGKILLChild(t *testing.T) {
	dir := os.Getenv(crashChildDirEnv)
	if dir == "" {
		t.Skip("helper process of TestCrashSIGKILL")
	}
	die := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "crash child: "+format+"\n", args...)
		os.Exit(1)
	}
	go func() { // the parent is gone
		io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	go func() { // a watchdog, should the parent never kill us
		<-time.After(2 * time.Minute)
		die("not killed within 2 minutes")
	}()
	cycle, err := strconv.Atoi(os.Getenv(crashChildCycleEnv))
	if err != nil {
		die("bad cycle: %v", err)
	}
	seed, err := strconv.ParseUint(os.Getenv(crashChildSeedEnv), 10, 64)
	if err != nil {
		die("bad seed: %v", err)
	}
	s, err := Open(Config{Path: dir, CompactionInterval: -1, Logger: crashDiscardLogger()})
	if err != nil {
		die("open: %v", err)
	}
	ctx := context.Background()
	rec := &crashLineRecorder{}
	writers := make([]*crashWriter, crashWriters)
	for owner := range writers {
		w := &crashWriter{s: s, owner: owner, tag: fmt.Sprintf("c%d", cycle), rng: rand.New(rand.NewPCG(seed, uint64(1000+cycle*crashWriters+owner))), rec: rec}
		if err := w.load(ctx); err != nil {
			die("load owner %d: %v", owner, err)
		}
		writers[owner] = w
	}
	if err := rec.write(fmt.Appendf(nil, "@READY %d\n", s.Revision())); err != nil {
		die("%v", err)
	}
	for _, w := range writers {
		go func() {
			for {
				if err := w.step(ctx); err != nil {
					die("%v", err)
				}
			}
		}()
	}
	// A compactor, so that kills also interrupt compactions: "@C rev"
	// before it compacts to rev, "@CD rev" once it did.
	crng := rand.New(rand.NewPCG(seed, uint64(cycle)))
	for {
		<-time.After(time.Duration(1+crng.IntN(20)) * time.Millisecond) // pacing, not a wait for a condition
		current, compacted := s.Revision(), s.CompactRevision()
		if current <= compacted {
			continue
		}
		target := compacted + 1 + crng.Int64N(current-compacted)
		if err := rec.write(fmt.Appendf(nil, "@C %d\n", target)); err != nil {
			die("%v", err)
		}
		if err := s.Compact(ctx, target); err != nil {
			die("compact to %d: %v", target, err)
		}
		if err := rec.write(fmt.Appendf(nil, "@CD %d\n", target)); err != nil {
			die("%v", err)
		}
	}
}

// TestPowerLoss runs concurrent writers on Pebble's crashable in-memory
// file system and, at many random moments, takes a crash clone of it (the
// synced data plus a random part of the unsynced data) and checks that a
// store opened on the clone holds every write acknowledged before the clone
// was taken, an all-or-nothing prefix of the rest, and a change log that
// replays it. Some clones are taken while a Compact runs, among them one
// before every sync of a compaction: the reopened store has either the old
// or the new compaction point and reads correctly at every retained
// revision.
func TestPowerLoss(t *testing.T) {
	seed := crashTestSeed(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	ctx := context.Background()
	mem := vfs.NewCrashableMem()
	fs := &syncHookFS{FS: mem}
	s := openTest(t, Config{Path: "db", fs: fs, CompactionInterval: -1, Logger: crashDiscardLogger()})

	rec := newCrashMemRecorder()
	ops := []Op{Put([]byte(crashSentinelKey), []byte("start"))}
	if err := rec.intent(crashSentinelOwner, ops); err != nil {
		t.Fatal(err)
	}
	resp, err := s.Txn(ctx, Txn{Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.ack(crashSentinelOwner, resp.Revision); err != nil {
		t.Fatal(err)
	}
	granted := int64(1) // Txns allowed so far, counting the sentinel

	// Writers issue Txns while they have budget, so that the history (and
	// the time to check it) stays bounded.
	var (
		budgetMu   sync.Mutex
		budgetCond = sync.NewCond(&budgetMu)
		budget     int
		stopped    bool
		wg         sync.WaitGroup
		errc       = make(chan error, crashWriters)
	)
	grant := func(n int) {
		budgetMu.Lock()
		budget += n
		granted += int64(n)
		budgetMu.Unlock()
		budgetCond.Broadcast()
	}
	for owner := range crashWriters {
		w := &crashWriter{s: s, owner: owner, tag: "p", rng: rand.New(rand.NewPCG(seed, uint64(100+owner))), rec: rec}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				budgetMu.Lock()
				for budget == 0 && !stopped {
					budgetCond.Wait()
				}
				if stopped {
					budgetMu.Unlock()
					return
				}
				budget--
				budgetMu.Unlock()
				if err := w.step(ctx); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	defer func() { // before openTest's Close
		budgetMu.Lock()
		stopped = true
		budgetMu.Unlock()
		budgetCond.Broadcast()
		wg.Wait()
	}()

	checkClone := func(what string, clone *vfs.MemFS, h crashHistory, mustRev int64, compactRevs []int64) {
		t.Helper()
		cs, err := Open(Config{Path: "db", fs: clone, CompactionInterval: -1, Logger: crashDiscardLogger()})
		if err != nil {
			t.Fatalf("%s: open crash clone: %v", what, err)
		}
		defer cs.Close()
		checkCrashRecovered(t, cs, crashRecoveryCheck{hist: h, mustRev: mustRev, from: max(1, cs.CompactRevision()), compactRevs: compactRevs, rng: rng})
		if err := cs.Close(); err != nil {
			t.Fatalf("%s: close crash clone: %v", what, err)
		}
	}

	var compacted int64    // compaction point after the last finished Compact
	midCompactClones := 0  // clones taken before each sync of a compaction
	racingCompactions := 0 // clones taken while a Compact raced with them
	hookedCompaction := func() {
		t.Helper()
		rec.waitAcks(t, granted, errc) // writers idle
		h, mustRev := rec.snapshot()
		current := s.Revision()
		if current <= compacted {
			return
		}
		old, target := compacted, compacted+1+rng.Int64N(current-compacted)
		var (
			mu     sync.Mutex
			clones []*vfs.MemFS
			hrng   = rand.New(rand.NewPCG(seed, uint64(current)))
		)
		hook := func() {
			mu.Lock()
			defer mu.Unlock()
			pct := 0 // the first clone has no unsynced data: nothing of the compaction is durable yet
			if len(clones) > 0 {
				pct = hrng.IntN(101)
			}
			clones = append(clones, mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: hrng}))
		}
		fs.hook.Store(&hook)
		err := s.Compact(ctx, target)
		fs.hook.Store(nil)
		if err != nil {
			t.Fatalf("compact to %d: %v", target, err)
		}
		compacted = target
		after := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng})
		mu.Lock()
		defer mu.Unlock()
		if len(clones) < 2 {
			t.Fatalf("compaction to %d synced %d times, want at least 2 (intent and result)", target, len(clones))
		}
		checkClone("clone before the compaction's first sync", clones[0], h, mustRev, []int64{old})
		for i, c := range clones[1:] {
			checkClone(fmt.Sprintf("clone before the compaction's sync %d", i+2), c, h, mustRev, []int64{old, target})
		}
		checkClone("clone after the compaction", after, h, mustRev, []int64{target})
		midCompactClones += len(clones)
	}

	n := *powerLossClones
	for i := range n {
		if i == n/2 {
			hookedCompaction()
		}
		// Let a random part of a random budget be acknowledged: the rest is
		// in flight when the clone is taken.
		batch := 1 + rng.IntN(60)
		base := rec.acks.Load()
		grant(batch)
		rec.waitAcks(t, base+int64(rng.IntN(batch)), errc)

		compactRevs := []int64{compacted}
		var compactErr chan error
		if i%8 == 7 { // a Compact racing with the writers and the clone
			if current := s.Revision(); current > compacted {
				target := compacted + 1 + rng.Int64N(current-compacted)
				compactRevs = append(compactRevs, target)
				compactErr = make(chan error, 1)
				racingCompactions++
				go func() { compactErr <- s.Compact(ctx, target) }()
			}
		}
		_, mustRev := rec.snapshot() // acknowledged before the clone began
		clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng})
		h, _ := rec.snapshot() // everything that can be in the clone
		if compactErr != nil {
			if err := <-compactErr; err != nil {
				t.Fatalf("compact to %d: %v", compactRevs[1], err)
			}
			compacted = compactRevs[1]
		}
		checkClone(fmt.Sprintf("clone %d", i), clone, h, mustRev, compactRevs)
	}
	hookedCompaction()
	t.Logf("%d random crash clones (%d of them racing with a Compact) and %d taken at the syncs of a compaction, over %d Txns; compacted to %d",
		n, racingCompactions, midCompactClones, rec.acks.Load(), compacted)
	if midCompactClones == 0 {
		t.Fatalf("no crash clone was taken during a compaction")
	}
}
