package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wask-dev/wask/wasmlet/sandbox/internal/preempt"
)

// DefaultMaxMemoryPages caps an instance whose Spec gives no memory limit:
// 16384 pages of 64 KiB, 1 GiB.
const DefaultMaxMemoryPages = 16384

// pageSize is the WebAssembly page size.
const pageSize = 64 << 10

// Config configures the one Runtime of a node.
type Config struct {
	// CompilationCacheDir holds wazero's on-disk compilation cache, so a
	// restarted node does not compile a module again. "" = no disk cache.
	CompilationCacheDir string
	// Logger receives the runtime's own logs (not the guests' output).
	// Default: slog.Default().
	Logger *slog.Logger
	// MaxMemoryPages caps every instance, and is the limit of an instance
	// whose Spec gives none. Default: DefaultMaxMemoryPages (1 GiB).
	MaxMemoryPages uint32
}

// Runtime runs modules: one wazero runtime with the host modules
// instantiated once, shared by every pod of a node.
type Runtime struct {
	rt       wazero.Runtime
	cache    wazero.CompilationCache
	log      *slog.Logger
	maxPages uint32
	stops    stopping
}

// stopping is how a runtime stops a guest that runs past its context.
type stopping int

const (
	// stopByCountdown: modules are instrumented by package preempt, whose
	// check at loop headers reaches the host every preempt.DefaultInterval
	// headers, or at the next header once the call's context is done
	// (RATIONALE.md, "How a guest is stopped"). What New uses.
	stopByCountdown stopping = iota
	// stopByWazero: wazero's WithCloseOnContextDone, which leaves the
	// machine code at every loop header. Benchmarks compare with it.
	stopByWazero
	// stopNever: no checks at all; a spinning guest cannot be stopped.
	// Benchmarks use it to measure the floor.
	stopNever
)

// New starts a runtime. Close it to free every compiled module and instance.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	return newRuntime(ctx, cfg, stopByCountdown)
}

func newRuntime(ctx context.Context, cfg Config, stops stopping) (*Runtime, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxMemoryPages == 0 {
		cfg.MaxMemoryPages = DefaultMaxMemoryPages
	}
	if cfg.MaxMemoryPages > 65536 {
		return nil, fmt.Errorf("sandbox: Config.MaxMemoryPages %d exceeds 65536 (4 GiB)", cfg.MaxMemoryPages)
	}
	rc := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(stops == stopByWazero).
		WithMemoryLimitPages(cfg.MaxMemoryPages)
	r := &Runtime{log: cfg.Logger, maxPages: cfg.MaxMemoryPages, stops: stops}
	if cfg.CompilationCacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CompilationCacheDir)
		if err != nil {
			return nil, fmt.Errorf("sandbox: opening compilation cache %s: %w", cfg.CompilationCacheDir, err)
		}
		r.cache = c
		rc = rc.WithCompilationCache(c)
	}
	r.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		return nil, errors.Join(fmt.Errorf("sandbox: instantiating WASI: %w", err), r.Close(ctx))
	}
	if err := instantiateWask(ctx, r.rt); err != nil {
		return nil, errors.Join(fmt.Errorf("sandbox: instantiating the wask host module: %w", err), r.Close(ctx))
	}
	if stops == stopByCountdown {
		if err := instantiatePreempt(ctx, r.rt); err != nil {
			return nil, errors.Join(fmt.Errorf("sandbox: instantiating the preemption host module: %w", err), r.Close(ctx))
		}
	}
	return r, nil
}

// Close frees every compiled module and instance of the runtime.
func (r *Runtime) Close(ctx context.Context) error {
	err := r.rt.Close(ctx)
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(ctx))
	}
	if err != nil {
		return fmt.Errorf("sandbox: closing runtime: %w", err)
	}
	return nil
}

// HostModules are the import modules a guest may use on this runtime.
func (r *Runtime) HostModules() []string {
	return []string{wasi_snapshot_preview1.ModuleName, WaskModule}
}

// Modes are the pod modes this runtime runs.
func (r *Runtime) Modes() []string {
	return []string{ModeCommand, ModeHTTPCGI, ModeHTTPReactor}
}

// Module is a compiled module, shared by every pod running it.
type Module struct {
	cm   wazero.CompiledModule
	info ModuleInfo
	fns  map[string]api.FunctionDefinition // exported functions
}

// Compile validates and compiles a module once (or loads it from the
// compilation cache).
func (r *Runtime) Compile(ctx context.Context, wasm []byte) (*Module, error) {
	if r.stops == stopByCountdown {
		var err error
		if wasm, err = preempt.Instrument(wasm, 0); err != nil {
			return nil, fmt.Errorf("sandbox: compiling module: %w", err)
		}
	}
	cm, err := r.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("sandbox: compiling module: %w", err)
	}
	return &Module{cm: cm, info: describe(cm), fns: cm.ExportedFunctions()}, nil
}

// Info describes the module as Inspect does.
func (m *Module) Info() ModuleInfo { return m.info }

// Close frees the compiled code. Instances still running keep working
// until they end; new ones cannot start.
func (m *Module) Close(ctx context.Context) error {
	if err := m.cm.Close(ctx); err != nil {
		return fmt.Errorf("sandbox: closing module: %w", err)
	}
	return nil
}

// hasExport reports whether the module exports a function name.
func (m *Module) hasExport(name string) bool {
	_, ok := m.fns[name]
	return ok
}
