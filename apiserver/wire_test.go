package apiserver

import (
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// wireCases are stored values: what the apiserver writes, and odd but
// decodable ones (no metadata, a stale revision, no type meta).
func wireCases(t testing.TB) map[string][]byte {
	t.Helper()
	mustEncode := func(k *kindInfo, m proto.Message) []byte {
		b, err := k.encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	raw := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pod := &waskv1.Pod{
		ApiVersion: apiVersion, Kind: "Pod",
		Metadata: &waskv1.ObjectMeta{
			Name: "p", Namespace: "default", Uid: "u-1", Generation: 3,
			Labels:            map[string]string{"app": "echo", "tier": "web"},
			Finalizers:        []string{"wask.dev/x"},
			CreationTimestamp: timestamppb.New(testTime),
		},
		Spec:   &waskv1.PodSpec{Module: "sha256:00", Mode: "command", Args: []string{"a", "b"}, NodeName: "n1"},
		Status: &waskv1.PodStatus{Phase: "Running"},
	}
	withRev := proto.Clone(pod).(*waskv1.Pod)
	withRev.Metadata.Revision = "99999"
	noMeta := proto.Clone(pod).(*waskv1.Pod)
	noMeta.Metadata = nil
	noType := proto.Clone(pod).(*waskv1.Pod)
	noType.ApiVersion, noType.Kind = "", ""
	// Two metadata fields on the wire: decoding merges them.
	twoMeta := append(raw(&waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: "p", Revision: "7"}}),
		raw(&waskv1.Pod{Metadata: &waskv1.ObjectMeta{Namespace: "ns"}, Spec: &waskv1.PodSpec{Mode: "command"}})...)
	// A field this schema does not know stays an unknown field.
	unknown := protowire.AppendTag(raw(pod), 999, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 5)
	return map[string][]byte{
		"pod":          mustEncode(kinds["Pod"], pod),
		"stale-rev":    raw(withRev),
		"no-metadata":  raw(noMeta),
		"no-type-meta": raw(noType),
		"two-metadata": twoMeta,
		"unknown":      unknown,
		"empty":        nil,
		"node": mustEncode(kinds["Node"], &waskv1.Node{Metadata: &waskv1.ObjectMeta{Name: "n1"},
			Spec: &waskv1.NodeSpec{Unschedulable: true}}),
		"endpoints": mustEncode(kinds["Endpoints"], &waskv1.Endpoints{Metadata: &waskv1.ObjectMeta{Name: "e", Namespace: "default"}}),
	}
}

var testTime = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// checkSplice checks that the spliced wire form of value decodes to what
// decode returns.
func checkSplice(t *testing.T, k *kindInfo, value []byte, rev int64) {
	t.Helper()
	want, err := k.decode(value, rev)
	spliced, serr := k.appendObjectWire([]byte("prefix"), value, rev)
	if err != nil {
		return // not an object: the splice may or may not notice
	}
	if serr != nil {
		t.Fatalf("splice of a decodable value: %v", serr)
	}
	if string(spliced[:6]) != "prefix" {
		t.Fatal("splice did not append")
	}
	var got waskv1.Object
	if err := proto.Unmarshal(spliced[6:], &got); err != nil {
		t.Fatalf("spliced form does not decode: %v", err)
	}
	if !proto.Equal(&got, k.wrap(want)) {
		t.Fatalf("spliced form decodes to\n%v\nwant\n%v", &got, k.wrap(want))
	}
}

func TestObjectWireMatchesDecode(t *testing.T) {
	for name, value := range wireCases(t) {
		for _, k := range []*kindInfo{kinds["Pod"], kinds["Node"], kinds["Endpoints"]} {
			for _, rev := range []int64{0, 1, 9, 10, 12345, 1<<63 - 1} {
				t.Run(name+"/"+k.name, func(t *testing.T) { checkSplice(t, k, value, rev) })
			}
		}
	}
}

func TestObjectWireRejectsBadFraming(t *testing.T) {
	for _, value := range [][]byte{{0x0a}, {0x1a, 0x05, 0x01}, {0xff}} {
		if _, err := kinds["Pod"].appendObjectWire(nil, value, 1); err == nil {
			t.Errorf("%x: no error", value)
		}
	}
}

func TestListItemIsOneItem(t *testing.T) {
	k := kinds["Pod"]
	value := wireCases(t)["pod"]
	var items []byte
	var err error
	for rev := int64(1); rev <= 3; rev++ {
		if items, err = k.appendListItem(items, value, rev); err != nil {
			t.Fatal(err)
		}
	}
	resp := preEncoded(&waskv1.ListResponse{Revision: "3"}, items)
	b, err := proto.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var got waskv1.ListResponse
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 3 || got.Revision != "3" || got.Items[2].GetPod().GetMetadata().GetRevision() != "3" {
		t.Fatalf("got %v", &got)
	}
	// JSON clients get the same items.
	js, err := jsonCodec{name: "json"}.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON waskv1.ListResponse
	if err := (jsonCodec{name: "json"}).Unmarshal(js, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&fromJSON, &got) {
		t.Fatalf("JSON gives %v, want %v", &fromJSON, &got)
	}
}

func FuzzObjectWire(f *testing.F) {
	for _, v := range wireCases(f) {
		f.Add(v, int64(5))
	}
	f.Fuzz(func(t *testing.T, value []byte, rev int64) {
		if rev < 0 {
			rev = -rev
			if rev < 0 {
				rev = 0
			}
		}
		checkSplice(t, kinds["Pod"], value, rev)
	})
}
