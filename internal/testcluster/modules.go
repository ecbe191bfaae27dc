package testcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// PushModule pushes wasm with the admin client (as `wask push`) and returns
// its digest.
func (c *Cluster) PushModule(t testing.TB, name string, wasm []byte) string {
	t.Helper()
	sum := sha256.Sum256(wasm)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := c.Client.Modules.Push(ctx)
	msgs := []*waskv1.PushRequest{{Msg: &waskv1.PushRequest_Header{Header: &waskv1.PushHeader{Name: name, Digest: digest, Size: int64(len(wasm))}}}}
	for off := 0; off < len(wasm); off += 1 << 20 {
		msgs = append(msgs, &waskv1.PushRequest{Msg: &waskv1.PushRequest_Chunk{Chunk: wasm[off:min(off+1<<20, len(wasm))]}})
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break // the error comes with CloseAndReceive
		}
	}
	if _, err := stream.CloseAndReceive(); err != nil {
		t.Fatalf("testcluster: push module %s: %v", name, err)
	}
	return digest
}
