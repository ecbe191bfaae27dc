package manifest

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
)

// FuzzDecode: any input either fails with an error or decodes to objects
// that survive an encode/decode round trip unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(deployment))
	f.Add([]byte("apiVersion: wask.dev/v1\nkind: Pod\nmetadata: {name: x, creationTimestamp: 2026-01-02T03:04:05Z}\nspec: {args: [a, b], priority: 7}\n"))
	f.Add([]byte(`{"apiVersion":"wask.dev/v1","kind":"List","items":[{"apiVersion":"wask.dev/v1","kind":"Node","status":{"capacity":{"memory":"1Gi"}}}]}`))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Decode(bytes.NewReader(data), "fuzz")
		if err != nil || len(objs) == 0 {
			return
		}
		out, err := EncodeYAML(objs, true)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		back, err := Decode(bytes.NewReader(out), "encoded")
		if err != nil {
			t.Fatalf("decode of encoded output: %v\n%s", err, out)
		}
		if diff := cmp.Diff(normalized(t, objs), back, protocmp.Transform()); diff != "" {
			t.Fatalf("round trip (-decoded +re-decoded):\n%s", diff)
		}
	})
}
