package apiserver_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/api/wask/v1/waskv1connect"
	"github.com/wask-dev/wask/apiserver"
	"github.com/wask-dev/wask/internal/moduleinspect"
	"github.com/wask-dev/wask/store"
)

// wasiModule is a C program of the shared WASI testsuite, in the shared
// folder next to the repository (or next to the folder of worktrees).
var wasiModule = func() string {
	rel := filepath.Join("shared", "testdata", "wasi-testsuite", "tests", "c", "testsuite", "wasm32-wasip1", "lseek.wasm")
	for _, up := range []string{filepath.Join("..", ".."), filepath.Join("..", "..", "..")} {
		if _, err := os.Stat(filepath.Join(up, rel)); err == nil {
			return filepath.Join(up, rel)
		}
	}
	return filepath.Join("..", "..", rel)
}()

type moduleServer struct {
	*testServer
	modules   waskv1connect.ModuleServiceClient
	blobDir   string       // <ModuleDir>/sha256
	pushRead  atomic.Int64 // request body bytes the server read from Push calls
	pushCalls atomic.Int64 // Push calls whose handler has returned
}

// newModuleServer starts an apiserver serving ObjectService and
// ModuleService over loopback h2c (Push is a client stream), with a real
// store and a module directory in temp dirs. edit may change the config.
func newModuleServer(t *testing.T, edit func(*apiserver.Config)) *moduleServer {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Config{Path: t.TempDir(), NoSync: true, CompactionInterval: -1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	moduleDir := t.TempDir()
	cfg := apiserver.Config{
		Store:         st,
		Logger:        logger,
		Now:           func() time.Time { return testNow },
		ModuleDir:     moduleDir,
		InspectModule: moduleinspect.Inspect,
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := apiserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ms := &moduleServer{blobDir: filepath.Join(moduleDir, "sha256")}
	mux := http.NewServeMux()
	mux.Handle(srv.Handler())
	path, mh := srv.ModuleHandler()
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != waskv1connect.ModuleServicePushProcedure {
			mh.ServeHTTP(w, r)
			return
		}
		r.Body = &pushBodyCounter{r: r.Body, n: &ms.pushRead}
		mh.ServeHTTP(w, r)
		ms.pushCalls.Add(1)
	}))
	url, hc := serveH2C(t, st, mux)
	ms.testServer = &testServer{st: st, url: url, client: waskv1connect.NewObjectServiceClient(hc, url)}
	ms.modules = waskv1connect.NewModuleServiceClient(hc, url)
	return ms
}

type pushBodyCounter struct {
	r io.ReadCloser
	n *atomic.Int64
}

func (c *pushBodyCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *pushBodyCounter) Close() error { return c.r.Close() }

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// bigModule is a valid module of about n bytes: a custom section of padding.
func bigModule(n int) []byte {
	payload := append([]byte{3, 'p', 'a', 'd'}, bytes.Repeat([]byte{0xa5}, n)...)
	m := []byte{0, 'a', 's', 'm', 1, 0, 0, 0, 0} // header, custom section id
	for v := uint32(len(payload)); ; {           // section size, LEB128
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			m = append(m, b)
			break
		}
		m = append(m, b|0x80)
	}
	return append(m, payload...)
}

// split cuts b into chunks of at most n bytes.
func split(b []byte, n int) [][]byte {
	var chunks [][]byte
	for len(b) > 0 {
		c := min(n, len(b))
		chunks = append(chunks, b[:c])
		b = b[c:]
	}
	return chunks
}

// pushMsgs sends msgs as one Push, stopping early if the server ends the
// stream, and returns the response or error.
func (ms *moduleServer) pushMsgs(t *testing.T, msgs ...*waskv1.PushRequest) (*waskv1.PushResponse, error) {
	t.Helper()
	stream := ms.modules.Push(ctxT(t))
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break // the server ended the call: CloseAndReceive has its error
		}
	}
	resp, err := stream.CloseAndReceive()
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func header(name, digest string, size int) *waskv1.PushRequest {
	return &waskv1.PushRequest{Msg: &waskv1.PushRequest_Header{Header: &waskv1.PushHeader{Name: name, Digest: digest, Size: int64(size)}}}
}

func chunk(b []byte) *waskv1.PushRequest {
	return &waskv1.PushRequest{Msg: &waskv1.PushRequest_Chunk{Chunk: b}}
}

// push pushes wasm under name (may be empty) with its digest, in chunks of
// chunkSize bytes.
func (ms *moduleServer) push(t *testing.T, name string, wasm []byte, chunkSize int) (*waskv1.PushResponse, error) {
	t.Helper()
	msgs := []*waskv1.PushRequest{header(name, digestOf(wasm), len(wasm))}
	for _, c := range split(wasm, chunkSize) {
		msgs = append(msgs, chunk(c))
	}
	return ms.pushMsgs(t, msgs...)
}

func (ms *moduleServer) mustPush(t *testing.T, name string, wasm []byte) *waskv1.PushResponse {
	t.Helper()
	resp, err := ms.push(t, name, wasm, 64<<10)
	if err != nil {
		t.Fatalf("push %q: %v", name, err)
	}
	return resp
}

type pulled struct {
	digest string
	size   int64
	data   []byte
	msgs   int
}

func (ms *moduleServer) pull(t *testing.T, digest string) (pulled, error) {
	t.Helper()
	stream, err := ms.modules.Pull(ctxT(t), connect.NewRequest(&waskv1.PullRequest{Digest: digest}))
	if err != nil {
		return pulled{}, err
	}
	defer stream.Close()
	var p pulled
	for stream.Receive() {
		m := stream.Msg()
		if p.msgs == 0 {
			p.digest, p.size = m.GetDigest(), m.GetSize()
		} else if m.GetDigest() != "" || m.GetSize() != 0 {
			t.Errorf("message %d carries digest or size: %v", p.msgs, m)
		}
		if len(m.GetChunk()) > 1<<20 {
			t.Errorf("message %d: chunk of %d bytes", p.msgs, len(m.GetChunk()))
		}
		p.data = append(p.data, m.GetChunk()...)
		p.msgs++
	}
	return p, stream.Err()
}

// blobFiles lists the names in the blob directory.
func (ms *moduleServer) blobFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(ms.blobDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// wantNothingStored fails if a blob, a temporary file or a Module exists.
func (ms *moduleServer) wantNothingStored(t *testing.T) {
	t.Helper()
	if files := ms.blobFiles(t); len(files) != 0 {
		t.Errorf("blob directory holds %v, want nothing", files)
	}
	list, err := ms.list(t, &waskv1.ListRequest{Kind: "Module"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetItems()) != 0 {
		t.Errorf("Modules stored: %v", list.GetItems())
	}
}

func wantMessage(t *testing.T, err error, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestPushPullRoundTrip(t *testing.T) {
	ms := newModuleServer(t, nil)
	reactor := readFile(t, "../wasmlet/sandbox/testdata/reactor.wasm")
	wasi := readFile(t, wasiModule)
	big := bigModule(2<<20 + 12345) // three pull chunks
	for _, tc := range []struct {
		name      string
		wasm      []byte
		chunkSize int
		check     func(t *testing.T, st *waskv1.ModuleStatus)
	}{
		{"reactor", reactor, 1 << 20, func(t *testing.T, st *waskv1.ModuleStatus) {
			want := &waskv1.ModuleStatus{
				Size:        int64(len(reactor)),
				Imports:     []*waskv1.ModuleImport{{Module: "wask", Name: "log", Kind: "func"}},
				Exports:     []*waskv1.ModuleExport{{Name: "_initialize", Kind: "func"}, {Name: "memory", Kind: "memory"}, {Name: "wask_http_handle", Kind: "func"}},
				Memory:      &waskv1.ModuleMemory{MinPages: 1, MaxPages: proto.Uint32(4)},
				Modes:       []string{"http-reactor"},
				HostModules: []string{"wask"},
			}
			if diff := cmp.Diff(want, st, protocmp.Transform()); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		}},
		{"wasi-lseek", wasi, 10000, func(t *testing.T, st *waskv1.ModuleStatus) {
			if st.GetSize() != int64(len(wasi)) || !slices.Equal(st.GetModes(), []string{"command", "http-cgi"}) ||
				!slices.Contains(st.GetHostModules(), "wasi_snapshot_preview1") || st.GetMemory() == nil || len(st.GetImports()) == 0 {
				t.Errorf("status %v", st)
			}
		}},
		{"big", big, 1 << 20, func(t *testing.T, st *waskv1.ModuleStatus) {
			if st.GetSize() != int64(len(big)) || len(st.GetModes()) != 0 {
				t.Errorf("status %v", st)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			digest := digestOf(tc.wasm)
			resp, err := ms.push(t, tc.name, tc.wasm, tc.chunkSize)
			if err != nil {
				t.Fatal(err)
			}
			mod := resp.GetModule()
			md := mod.GetMetadata()
			if !resp.GetCreated() || mod.GetApiVersion() != "wask.dev/v1" || mod.GetKind() != "Module" ||
				md.GetName() != tc.name || md.GetNamespace() != "" || !uuidRe.MatchString(md.GetUid()) || md.GetGeneration() != 1 ||
				md.GetRevision() == "" || !md.GetCreationTimestamp().AsTime().Equal(testNow) || mod.GetSpec().GetDigest() != digest {
				t.Fatalf("push response %v", resp)
			}
			tc.check(t, mod.GetStatus())
			if got := readFile(t, filepath.Join(ms.blobDir, strings.TrimPrefix(digest, "sha256:"))); !bytes.Equal(got, tc.wasm) {
				t.Fatal("blob on disk differs from the pushed bytes")
			}

			// The Module is an object like any other.
			got, err := ms.get(t, "Module", "", tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(mod, got.GetModule(), protocmp.Transform()); diff != "" {
				t.Fatalf("get differs from push (-push +get):\n%s", diff)
			}

			p, err := ms.pull(t, digest)
			if err != nil {
				t.Fatal(err)
			}
			if p.digest != digest || p.size != int64(len(tc.wasm)) || !bytes.Equal(p.data, tc.wasm) {
				t.Fatalf("pulled digest %s size %d, %d bytes (equal: %v)", p.digest, p.size, len(p.data), bytes.Equal(p.data, tc.wasm))
			}
			if want := (len(tc.wasm) + 1<<20 - 1) >> 20; p.msgs != want {
				t.Errorf("pulled in %d messages, want %d", p.msgs, want)
			}
		})
	}

	list, err := ms.list(t, &waskv1.ListRequest{Kind: "Module"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range list.GetItems() {
		names = append(names, o.GetModule().GetMetadata().GetName())
	}
	if want := []string{"big", "reactor", "wasi-lseek"}; !slices.Equal(names, want) {
		t.Fatalf("listed %v, want %v", names, want)
	}

	// Deleting a Module through ObjectService deletes the object; its bytes
	// stay pullable by digest.
	if _, err := ms.delete(t, &waskv1.DeleteRequest{Kind: "Module", Name: "reactor"}); err != nil {
		t.Fatal(err)
	}
	_, err = ms.get(t, "Module", "", "reactor")
	wantCode(t, err, connect.CodeNotFound)
	if p, err := ms.pull(t, digestOf(reactor)); err != nil || !bytes.Equal(p.data, reactor) {
		t.Fatalf("pull after delete: %v", err)
	}
}

func TestPushDefaultNameAndDedupe(t *testing.T) {
	ms := newModuleServer(t, nil)
	wasm := readFile(t, "../wasmlet/sandbox/testdata/reactor.wasm")
	digest := digestOf(wasm)
	hexDigest := strings.TrimPrefix(digest, "sha256:")

	first := ms.mustPush(t, "", wasm)
	if name := first.GetModule().GetMetadata().GetName(); name != "sha256-"+hexDigest || !first.GetCreated() {
		t.Fatalf("first push: %v", first)
	}
	// Same bytes, same name: nothing new, the object unchanged.
	again := ms.mustPush(t, "", wasm)
	if again.GetCreated() || !proto.Equal(again.GetModule(), first.GetModule()) {
		t.Fatalf("second push: %v, want the first Module and created=false", again)
	}
	// Same bytes, another name: a second object, the same blob.
	named := ms.mustPush(t, "echo", wasm)
	if named.GetCreated() || named.GetModule().GetSpec().GetDigest() != digest {
		t.Fatalf("push under a name: %v", named)
	}
	if files := ms.blobFiles(t); !slices.Equal(files, []string{hexDigest}) {
		t.Fatalf("blob directory holds %v, want just %s", files, hexDigest)
	}
}

func TestPushRepointsName(t *testing.T) {
	ms := newModuleServer(t, nil)
	v1 := readFile(t, "../wasmlet/sandbox/testdata/reactor.wasm")
	v2 := readFile(t, wasiModule)
	first := ms.mustPush(t, "app", v1).GetModule()
	second := ms.mustPush(t, "app", v2)
	mod := second.GetModule()
	if !second.GetCreated() || mod.GetSpec().GetDigest() != digestOf(v2) || mod.GetStatus().GetSize() != int64(len(v2)) ||
		!slices.Equal(mod.GetStatus().GetModes(), []string{"command", "http-cgi"}) {
		t.Fatalf("repointed Module: %v", second)
	}
	md, fm := mod.GetMetadata(), first.GetMetadata()
	if md.GetUid() != fm.GetUid() || md.GetGeneration() != 2 || revOf(t, md.GetRevision()) <= revOf(t, fm.GetRevision()) {
		t.Fatalf("metadata after repoint %v (before: %v)", md, fm)
	}
	got, err := ms.get(t, "Module", "", "app")
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.GetModule(), mod) {
		t.Fatalf("get %v, want %v", got.GetModule(), mod)
	}
	// Both versions stay pullable.
	for _, w := range [][]byte{v1, v2} {
		if p, err := ms.pull(t, digestOf(w)); err != nil || !bytes.Equal(p.data, w) {
			t.Fatalf("pull %s: %v", digestOf(w), err)
		}
	}
	// Back to v1: the old bytes are deduplicated, the name repointed.
	back := ms.mustPush(t, "app", v1)
	if back.GetCreated() || back.GetModule().GetSpec().GetDigest() != digestOf(v1) || back.GetModule().GetMetadata().GetGeneration() != 3 {
		t.Fatalf("repoint back: %v", back)
	}
}

func TestPushRejectsAndStoresNothing(t *testing.T) {
	reactor := readFile(t, "../wasmlet/sandbox/testdata/reactor.wasm")
	other := readFile(t, wasiModule)
	tooBig := bytes.Repeat([]byte{1}, 1<<20+1)
	for _, tc := range []struct {
		name  string
		msgs  []*waskv1.PushRequest
		code  connect.Code
		parts []string
	}{
		{"wrong digest", []*waskv1.PushRequest{header("m", digestOf(other), len(reactor)), chunk(reactor)},
			connect.CodeInvalidArgument, []string{digestOf(other), digestOf(reactor), "nothing stored"}},
		{"invalid wasm", []*waskv1.PushRequest{header("m", "", 18), chunk([]byte("#!/bin/sh\necho hi\n"))},
			connect.CodeInvalidArgument, []string{"invalid WebAssembly module"}},
		{"truncated wasm", []*waskv1.PushRequest{header("m", "", len(reactor)-3), chunk(reactor[:len(reactor)-3])},
			connect.CodeInvalidArgument, []string{"invalid WebAssembly module"}},
		{"no messages", nil, connect.CodeInvalidArgument, []string{"header: required"}},
		{"chunk first", []*waskv1.PushRequest{chunk(reactor), header("m", "", len(reactor))},
			connect.CodeInvalidArgument, []string{"header: required"}},
		{"second header", []*waskv1.PushRequest{header("m", "", len(reactor)), chunk(reactor[:10]), header("m", "", len(reactor))},
			connect.CodeInvalidArgument, []string{"message 2", "only be the first"}},
		{"empty message", []*waskv1.PushRequest{header("m", "", len(reactor)), {}},
			connect.CodeInvalidArgument, []string{"neither header nor chunk"}},
		{"no size", []*waskv1.PushRequest{header("m", "", 0), chunk(reactor)},
			connect.CodeInvalidArgument, []string{"header.size: required"}},
		{"bad name", []*waskv1.PushRequest{header("My_Module", "", len(reactor)), chunk(reactor)},
			connect.CodeInvalidArgument, []string{"header.name", "DNS-1123 subdomain"}},
		{"bad digest syntax", []*waskv1.PushRequest{header("m", "md5:abc", len(reactor)), chunk(reactor)},
			connect.CodeInvalidArgument, []string{"header.digest"}},
		{"fewer bytes than size", []*waskv1.PushRequest{header("m", "", len(reactor)+1), chunk(reactor)},
			connect.CodeInvalidArgument, []string{"bytes received", "size is"}},
		{"more bytes than size", []*waskv1.PushRequest{header("m", "", len(reactor)-1), chunk(reactor)},
			connect.CodeInvalidArgument, []string{"more bytes than the header's size"}},
		{"chunk over 1 MiB", []*waskv1.PushRequest{header("m", "", len(tooBig)), chunk(tooBig)},
			connect.CodeInvalidArgument, []string{"at most 1048576"}},
		// Larger than a chunk and its framing: refused by Connect's read
		// limit before the message is read whole.
		{"message far over 1 MiB", []*waskv1.PushRequest{header("m", "", 2<<20), chunk(make([]byte, 2<<20))},
			connect.CodeResourceExhausted, nil},
		{"over the size limit", []*waskv1.PushRequest{header("m", "", 64<<20+1)},
			connect.CodeResourceExhausted, []string{"at most 67108864 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := newModuleServer(t, nil)
			_, err := ms.pushMsgs(t, tc.msgs...)
			wantCode(t, err, tc.code)
			wantMessage(t, err, tc.parts...)
			ms.wantNothingStored(t)
		})
	}
}

// TestPushSizeLieStopsReading sends far more bytes than the header
// declares: the server must refuse once the declared size is passed, not
// read everything the client would send.
func TestPushSizeLieStopsReading(t *testing.T) {
	ms := newModuleServer(t, nil)
	const chunks = 64 // 64 MiB offered
	stream := ms.modules.Push(ctxT(t))
	if err := stream.Send(header("liar", "", 10)); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 1<<20)
	sent := 0
	for ; sent < chunks; sent++ {
		if err := stream.Send(chunk(payload)); err != nil {
			break // the server ended the call
		}
	}
	_, err := stream.CloseAndReceive()
	wantCode(t, err, connect.CodeInvalidArgument)
	wantMessage(t, err, "more bytes than the header's size of 10")
	t.Logf("client sent %d MiB before the stream ended; the server read %d bytes", sent, ms.pushRead.Load())
	if sent == chunks {
		t.Errorf("all %d MiB were accepted by the stream; the server should have ended it", chunks)
	}
	if ms.pushCalls.Load() != 1 {
		t.Fatalf("push handler calls returned: %d", ms.pushCalls.Load())
	}
	if n := ms.pushRead.Load(); n > 2<<20 {
		t.Errorf("server read %d bytes of the request body, want at most the first chunk and its framing", n)
	}
	ms.wantNothingStored(t)
}

func TestPushConfig(t *testing.T) {
	wasm := readFile(t, "../wasmlet/sandbox/testdata/reactor.wasm")
	t.Run("no module dir", func(t *testing.T) {
		ms := newModuleServer(t, func(c *apiserver.Config) { c.ModuleDir = "" })
		_, err := ms.push(t, "m", wasm, 1<<20)
		wantCode(t, err, connect.CodeUnimplemented)
		wantMessage(t, err, "ModuleDir")
		_, err = ms.pull(t, digestOf(wasm))
		wantCode(t, err, connect.CodeUnimplemented)
	})
	t.Run("no inspector", func(t *testing.T) {
		ms := newModuleServer(t, func(c *apiserver.Config) { c.InspectModule = nil })
		_, err := ms.push(t, "m", wasm, 1<<20)
		wantCode(t, err, connect.CodeFailedPrecondition)
		wantMessage(t, err, "module inspection not configured")
		ms.wantNothingStored(t)
	})
	t.Run("max size", func(t *testing.T) {
		ms := newModuleServer(t, func(c *apiserver.Config) { c.MaxModuleSize = int64(len(wasm)) })
		if _, err := ms.push(t, "fits", wasm, 1<<20); err != nil {
			t.Fatal(err)
		}
		bigger := append(slices.Clone(wasm), 0)
		_, err := ms.push(t, "too-big", bigger, 1<<20)
		wantCode(t, err, connect.CodeResourceExhausted)
	})
}

func TestPullErrors(t *testing.T) {
	ms := newModuleServer(t, nil)
	_, err := ms.pull(t, digestOf([]byte("never pushed")))
	wantCode(t, err, connect.CodeNotFound)
	for _, bad := range []string{"", "sha256:abc", "md5:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("A", 64), "sha256:../" + strings.Repeat("a", 61)} {
		_, err := ms.pull(t, bad)
		wantCode(t, err, connect.CodeInvalidArgument)
	}
}

func TestPullCorruptedBlob(t *testing.T) {
	ms := newModuleServer(t, nil)
	wasm := bigModule(1<<20 + 100) // two chunks: nothing may be sent before the error
	ms.mustPush(t, "m", wasm)
	digest := digestOf(wasm)
	path := filepath.Join(ms.blobDir, strings.TrimPrefix(digest, "sha256:"))
	bad := slices.Clone(wasm)
	bad[len(bad)-1] ^= 0xff
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := ms.pull(t, digest)
	wantCode(t, err, connect.CodeDataLoss)
	if len(p.data) != 0 {
		t.Fatalf("%d bytes of a corrupted blob were sent", len(p.data))
	}
	// A truncated blob too.
	if err := os.WriteFile(path, wasm[:100], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ms.pull(t, digest)
	wantCode(t, err, connect.CodeDataLoss)

	// Pushing the module again repairs it.
	resp := ms.mustPush(t, "m", wasm)
	if !resp.GetCreated() {
		t.Fatalf("push over a corrupted blob: created=false, want the bytes stored again")
	}
	if p, err := ms.pull(t, digest); err != nil || !bytes.Equal(p.data, wasm) {
		t.Fatalf("pull after repair: %v", err)
	}
}

// TestTempBlobNotServed is the crash case: a push died after writing its
// temporary file and before renaming it. Those bytes are not a blob.
func TestTempBlobNotServed(t *testing.T) {
	ms := newModuleServer(t, nil)
	wasm := readFile(t, "../wasmlet/sandbox/testdata/reactor.wasm")
	if err := os.MkdirAll(ms.blobDir, 0o750); err != nil {
		t.Fatal(err)
	}
	hexDigest := strings.TrimPrefix(digestOf(wasm), "sha256:")
	for _, name := range []string{".push-123456", ".push-" + hexDigest, hexDigest + ".tmp"} {
		if err := os.WriteFile(filepath.Join(ms.blobDir, name), wasm[:50], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err := ms.pull(t, digestOf(wasm))
	wantCode(t, err, connect.CodeNotFound)
	_, err = ms.pull(t, digestOf(wasm[:50]))
	wantCode(t, err, connect.CodeNotFound)

	// A push of the same module is unaffected and leaves no file of its own
	// but the blob.
	before := ms.blobFiles(t)
	if resp := ms.mustPush(t, "m", wasm); !resp.GetCreated() {
		t.Fatal("created=false, want true")
	}
	after := ms.blobFiles(t)
	if want := append(before, hexDigest); !cmp.Equal(sorted(after), sorted(want)) {
		t.Fatalf("blob directory after push: %v, want %v", after, want)
	}
	if p, err := ms.pull(t, digestOf(wasm)); err != nil || !bytes.Equal(p.data, wasm) {
		t.Fatalf("pull: %v", err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestObjectServiceRefusesModuleWrites: only Push creates and updates
// Modules; ObjectService can read and delete them.
func TestObjectServiceRefusesModuleWrites(t *testing.T) {
	ms := newModuleServer(t, nil)
	wasm := readFile(t, "../wasmlet/sandbox/testdata/reactor.wasm")
	pushed := ms.mustPush(t, "echo", wasm).GetModule()
	obj := func(m *waskv1.Module) *waskv1.Object { return &waskv1.Object{Kind: &waskv1.Object_Module{Module: m}} }

	_, err := ms.client.Create(ctxT(t), connect.NewRequest(&waskv1.CreateRequest{Object: obj(&waskv1.Module{
		Metadata: &waskv1.ObjectMeta{Name: "other"}, Spec: &waskv1.ModuleSpec{Digest: testDigest}})}))
	wantCode(t, err, connect.CodeInvalidArgument)
	wantMessage(t, err, "Modules are created by ModuleService.Push")

	changed := proto.Clone(pushed).(*waskv1.Module)
	changed.Spec.Digest = testDigest
	_, err = ms.update(t, obj(changed))
	wantCode(t, err, connect.CodeInvalidArgument)
	wantMessage(t, err, "Modules are created by ModuleService.Push")

	changed = proto.Clone(pushed).(*waskv1.Module)
	changed.Status.Modes = []string{"command"}
	_, err = ms.client.UpdateStatus(ctxT(t), connect.NewRequest(&waskv1.UpdateStatusRequest{Object: obj(changed)}))
	wantCode(t, err, connect.CodeInvalidArgument)
	wantMessage(t, err, "Modules are created by ModuleService.Push")

	got, err := ms.get(t, "Module", "", "echo")
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.GetModule(), pushed) {
		t.Fatalf("Module changed: %v, want %v", got.GetModule(), pushed)
	}
	if _, err := ms.get(t, "Module", "", "other"); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("get other: %v, want NotFound", err)
	}
}
