package preempt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// host instantiates loops.wasm, instrumented with interval, on a runtime
// without wazero's own termination checks. Its check counts its calls and
// exits the guest once the call's context is done.
type host struct {
	mod    api.Module
	checks int
	notes  []uint32
}

func newHost(t *testing.T, interval int32) *host {
	t.Helper()
	in, err := os.ReadFile("testdata/loops.wasm")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Instrument(in, interval)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { rt.Close(ctx) })
	h := &host{}
	if _, err := rt.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithFunc(func(_ context.Context, v uint32) { h.notes = append(h.notes, v) }).Export("note").
		Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.NewHostModuleBuilder(ImportModule).NewFunctionBuilder().
		WithFunc(func(ctx context.Context, m api.Module) {
			h.checks++
			if ctx.Err() != nil {
				panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
			}
		}).Export(ImportName).Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	h.mod, err = rt.Instantiate(ctx, out)
	if err != nil {
		t.Fatalf("instantiating the instrumented module: %v", err)
	}
	return h
}

func (h *host) call(t *testing.T, ctx context.Context, fn string, params ...uint64) uint64 {
	t.Helper()
	res, err := h.mod.ExportedFunction(fn).Call(ctx, params...)
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	if len(res) == 0 {
		return 0
	}
	return res[0]
}

func TestInstrumentedModuleBehavesTheSame(t *testing.T) {
	h := newHost(t, 10_000)
	ctx := context.Background()
	if got := h.call(t, ctx, "started"); got != 3 {
		t.Errorf("the start function (index moved) set started = %d, want 3", got)
	}
	if got := h.call(t, ctx, "twice", 7); got != 14 {
		t.Errorf("twice(7) = %d, want 14 (a call whose index moved)", got)
	}
	for slot, want := range []uint64{5, 10} {
		if got := h.call(t, ctx, "indirect", uint64(slot), 5); got != want {
			t.Errorf("indirect(slot %d, 5) = %d, want %d (element segment renumbered)", slot, got, want)
		}
	}
	if got := h.call(t, ctx, "ref_is_null"); got != 0 {
		t.Errorf("the global's ref.func became null")
	}
	if want := []uint32{3, 7, 5, 5}; !slices.Equal(h.notes, want) {
		t.Errorf("the imported function (index kept) saw %v, want %v", h.notes, want)
	}
	// Names follow their functions.
	for _, name := range []string{"count", "twice", "spin"} {
		if got := h.mod.ExportedFunction(name).Definition().DebugName(); !strings.HasSuffix(got, "."+name) {
			t.Errorf("export %q has the debug name %q", name, got)
		}
	}
}

func TestCheckEveryIntervalLoopHeaders(t *testing.T) {
	h := newHost(t, 10_000)
	before := h.checks
	// count(n) runs its loop header n times: the check runs once per
	// 10,000 headers, counting from where the start function left off (3).
	h.call(t, context.Background(), "count", 25_000-3)
	if got := h.checks - before; got != 2 {
		t.Errorf("25,000 headers since instantiation made %d checks, want 2", got)
	}
}

func TestZeroedBudgetChecksAtTheNextHeader(t *testing.T) {
	h := newHost(t, 1<<30)
	g, ok := h.mod.ExportedGlobal(BudgetExport).(api.MutableGlobal)
	if !ok {
		t.Fatalf("%s is not exported as a mutable global", BudgetExport)
	}
	g.Set(0)
	h.call(t, context.Background(), "count", 1)
	if h.checks != 1 {
		t.Errorf("after zeroing the budget, one header made %d checks, want 1", h.checks)
	}
	if got := api.DecodeI32(g.Get()); got != 1<<30 {
		t.Errorf("the check did not restart the countdown: budget %d", got)
	}
}

func TestSpinningGuestStopsAtItsDeadline(t *testing.T) {
	h := newHost(t, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := h.mod.ExportedFunction("spin").Call(ctx)
	var ee *sys.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != sys.ExitCodeDeadlineExceeded {
		t.Fatalf("spin returned %v, want the check's deadline exit", err)
	}
}

func TestInstrumentRefuses(t *testing.T) {
	in, err := os.ReadFile("testdata/loops.wasm")
	if err != nil {
		t.Fatal(err)
	}
	twice, err := Instrument(in, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		wasm       []byte
	}{
		{"empty", "not a WebAssembly 1.0 binary", nil},
		{"text", "not a WebAssembly 1.0 binary", []byte("(module)")},
		{"truncated", "unexpected end of input", in[:len(in)-40]},
		{"instrumented twice", `already imports from "wask:preempt"`, twice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Instrument(tc.wasm, 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Instrument: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestTestdataIsCurrent rebuilds loops.wasm where wat2wasm is installed.
func TestTestdataIsCurrent(t *testing.T) {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm not installed")
	}
	out := filepath.Join(t.TempDir(), "loops.wasm")
	if b, err := exec.Command("wat2wasm", "--debug-names", "testdata/loops.wat", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v: %s", err, b)
	}
	want, _ := os.ReadFile(out)
	got, _ := os.ReadFile("testdata/loops.wasm")
	if !bytes.Equal(got, want) {
		t.Fatal("testdata/loops.wasm is not loops.wat's: run wat2wasm --debug-names testdata/loops.wat -o testdata/loops.wasm")
	}
}
