package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

func newPushCmd(e *env) *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "push FILE.wasm",
		Short: "Upload a WebAssembly module; pods refer to it by name or digest",
		Long: `Upload a WebAssembly module to the cluster. The server compiles it to check it, stores it
under its SHA-256 digest and records a Module object (imports, exports, memory, the modes it can
run in). Pods name it in spec.module by the Module's name or by its digest.

Without --name the Module is named "sha256-<hex digest>". Pushing the same bytes again stores
nothing new; pushing other bytes under an existing name repoints it.`,
		Example: `  wask push hello.wasm --name hello
  wask get modules`,
		Args: argsRange(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := e.dial()
			if err != nil {
				return err
			}
			m, err := pushModule(c.Context(), cl, args[0], name, e.stderr)
			if err != nil {
				return fmt.Errorf("push %s: %w", args[0], explain(cl, err))
			}
			fmt.Fprintf(e.stdout, "module/%s pushed (%s, %s)\n", m.GetMetadata().GetName(), m.GetSpec().GetDigest(), byteSize(m.GetStatus().GetSize()))
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", `the Module's name (a DNS-1123 subdomain); default "sha256-<hex digest>"`)
	return c
}

// pushChunk is the size of one pushed chunk (the server takes at most 1 MiB).
const pushChunk = 512 << 10

// progressMinBytes is the smallest module whose push reports progress.
const progressMinBytes = 8 << 20

// pushModule streams a .wasm file to the ModuleService and returns the
// stored Module. Progress of large pushes goes to progress, if not nil.
func pushModule(ctx context.Context, cl *client.Client, path, name string, progress io.Writer) (*waskv1.Module, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(wasm)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	stream := cl.Modules.Push(ctx)
	header := &waskv1.PushRequest{Msg: &waskv1.PushRequest_Header{Header: &waskv1.PushHeader{Name: name, Digest: digest, Size: int64(len(wasm))}}}
	if err := stream.Send(header); err != nil {
		_, rerr := stream.CloseAndReceive()
		return nil, firstErr(rerr, err)
	}
	if len(wasm) < progressMinBytes {
		progress = nil
	}
	for off := 0; off < len(wasm); off += pushChunk {
		end := min(off+pushChunk, len(wasm))
		if err := stream.Send(&waskv1.PushRequest{Msg: &waskv1.PushRequest_Chunk{Chunk: wasm[off:end]}}); err != nil {
			_, rerr := stream.CloseAndReceive()
			return nil, firstErr(rerr, err)
		}
		if progress != nil {
			fmt.Fprintf(progress, "\rpushing %s: %s / %s", path, byteSize(int64(end)), byteSize(int64(len(wasm))))
		}
	}
	if progress != nil {
		fmt.Fprintln(progress, ", compiling")
	}
	resp, err := stream.CloseAndReceive()
	if err != nil {
		return nil, err
	}
	m := resp.Msg.GetModule()
	if got := m.GetSpec().GetDigest(); got != digest {
		return nil, fmt.Errorf("server stored digest %s, want %s", got, digest)
	}
	return m, nil
}
