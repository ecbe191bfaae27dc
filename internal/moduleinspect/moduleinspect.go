// Package moduleinspect describes a pushed module for the API: it runs
// wasmlet/sandbox's validation (the only place wazero is used) and turns the
// result into a waskv1.ModuleStatus. cmd/wask injects it into the apiserver,
// which may not import the wasmlet.
package moduleinspect

import (
	"context"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/wasmlet/sandbox"
)

// Inspect validates wasm and describes it. Size is left for the caller.
func Inspect(ctx context.Context, wasm []byte) (*waskv1.ModuleStatus, error) {
	info, err := sandbox.Inspect(ctx, wasm)
	if err != nil {
		return nil, err
	}
	st := &waskv1.ModuleStatus{
		Size:        int64(len(wasm)),
		Modes:       info.Modes,
		HostModules: info.HostModules,
	}
	for _, im := range info.Imports {
		st.Imports = append(st.Imports, &waskv1.ModuleImport{Module: im.Module, Name: im.Name, Kind: im.Kind})
	}
	for _, ex := range info.Exports {
		st.Exports = append(st.Exports, &waskv1.ModuleExport{Name: ex.Name, Kind: ex.Kind})
	}
	if info.HasMemory {
		st.Memory = &waskv1.ModuleMemory{MinPages: info.MinPages}
		if info.HasMaxPages {
			st.Memory.MaxPages = &info.MaxPages
		}
	}
	return st, nil
}
