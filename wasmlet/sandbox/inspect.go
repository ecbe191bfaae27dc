package sandbox

import (
	"github.com/wask-dev/wask/wasmlet/sandbox/internal/preempt"

	"context"
	"fmt"
	"sort"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

//go:generate wat2wasm testdata/reactor.wat -o testdata/reactor.wasm
//go:generate wat2wasm testdata/trap.wat -o testdata/trap.wasm
//go:generate wat2wasm testdata/bigmem.wat -o testdata/bigmem.wasm

// Guest ABI names a module is recognised by.
const (
	// CommandExport is the WASI command entry point.
	CommandExport = "_start"
	// ReactorInitExport is the WASI reactor initializer.
	ReactorInitExport = "_initialize"
	// HTTPHandlerExport is the function the wasmlet calls per request in
	// http-reactor mode, (ptr, len i32) -> i64 (wasm-samples/ABI.md; the
	// guest SDK in wasm-samples exports it).
	HTTPHandlerExport = "wask_http_handle"
)

// Modes a module can run in.
const (
	ModeCommand     = "command"
	ModeHTTPCGI     = "http-cgi"
	ModeHTTPReactor = "http-reactor"
)

// Import is one import of a module.
type Import struct {
	Module, Name, Kind string // Kind: func, memory, table or global
}

// Export is one export of a module.
type Export struct {
	Name, Kind string
}

// ModuleInfo is what validating a module shows.
type ModuleInfo struct {
	Imports []Import
	Exports []Export
	// HasMemory reports a defined or imported linear memory; MinPages and
	// MaxPages (if HasMaxPages) give its limits in 64 KiB pages.
	HasMemory   bool
	MinPages    uint32
	MaxPages    uint32
	HasMaxPages bool
	// Modes are the pod modes the module supports, in the order command,
	// http-cgi, http-reactor.
	Modes []string
	// HostModules are the distinct import module names, sorted.
	HostModules []string
}

// Inspect validates a module completely (as wazero does before running
// it) and describes it. It compiles with wazero's interpreter, which
// validates without generating machine code, so it is cheap enough for the
// apiserver to call on every push.
func Inspect(ctx context.Context, wasm []byte) (ModuleInfo, error) {
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	cm, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return ModuleInfo{}, fmt.Errorf("invalid WebAssembly module: %w", err)
	}
	defer cm.Close(ctx)
	return describe(cm), nil
}

// describe lists what a compiled module imports and exports and the modes
// it supports.
func describe(cm wazero.CompiledModule) ModuleInfo {
	var info ModuleInfo
	hosts := map[string]bool{}
	addImport := func(d interface{ Import() (string, string, bool) }, kind string) {
		mod, name, ok := d.Import()
		if !ok || mod == preempt.ImportModule { // the runtime's own instrumentation
			return
		}
		info.Imports = append(info.Imports, Import{Module: mod, Name: name, Kind: kind})
		hosts[mod] = true
	}
	for _, f := range cm.ImportedFunctions() {
		addImport(f, "func")
	}
	for _, m := range cm.ImportedMemories() {
		addImport(m, "memory")
		info.setMemory(m)
	}
	for name := range cm.ExportedFunctions() {
		info.Exports = append(info.Exports, Export{Name: name, Kind: "func"})
	}
	for name, m := range cm.ExportedMemories() {
		info.Exports = append(info.Exports, Export{Name: name, Kind: "memory"})
		if !info.HasMemory {
			info.setMemory(m)
		}
	}
	// wazero gives imports in module order but exports as maps.
	sort.Slice(info.Exports, func(i, j int) bool { return info.Exports[i].Name < info.Exports[j].Name })
	for h := range hosts {
		info.HostModules = append(info.HostModules, h)
	}
	sort.Strings(info.HostModules)

	funcs := cm.ExportedFunctions()
	if _, ok := funcs[CommandExport]; ok {
		info.Modes = append(info.Modes, ModeCommand, ModeHTTPCGI)
	}
	if _, ok := funcs[HTTPHandlerExport]; ok {
		info.Modes = append(info.Modes, ModeHTTPReactor)
	}
	return info
}

func (info *ModuleInfo) setMemory(m api.MemoryDefinition) {
	info.HasMemory = true
	info.MinPages = m.Min()
	info.MaxPages, info.HasMaxPages = m.Max()
}
