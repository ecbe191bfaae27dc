package moduleinspect

import (
	"context"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

func TestInspect(t *testing.T) {
	wasm, err := os.ReadFile("../../wasmlet/sandbox/testdata/reactor.wasm")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Inspect(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	maxPages := uint32(4)
	want := &waskv1.ModuleStatus{
		Size:        int64(len(wasm)),
		Imports:     []*waskv1.ModuleImport{{Module: "wask", Name: "log", Kind: "func"}},
		Exports:     []*waskv1.ModuleExport{{Name: "_initialize", Kind: "func"}, {Name: "memory", Kind: "memory"}, {Name: "wask_http_handle", Kind: "func"}},
		Memory:      &waskv1.ModuleMemory{MinPages: 1, MaxPages: &maxPages},
		Modes:       []string{"http-reactor"},
		HostModules: []string{"wask"},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("Inspect (-want +got):\n%s", diff)
	}
	if _, err := Inspect(context.Background(), []byte("nope")); err == nil {
		t.Fatal("Inspect of garbage succeeded")
	}
}
