package apiserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/api/wask/v1/waskv1connect"
)

// This file is wask.v1.ModuleService. A push goes
//
//	header ─▶ chunks (to a temp file and memory, hashed; stop at the declared size)
//	       ─▶ size and digest checks ─▶ InspectModule ─▶ blob committed (blobs.go)
//	       ─▶ Module object created or updated (the ObjectService's create/write)
//
// and any failure before the commit leaves nothing behind. The blob is
// committed before the object is written, so a Module never names bytes the
// cluster lacks; a failed object write leaves an unreferenced blob, which a
// later push deduplicates and blob garbage collection (later work) removes.

const (
	// maxModuleChunk is the largest chunk of a PushRequest or PullResponse.
	maxModuleChunk = 1 << 20
	// defaultMaxModuleSize is Config.MaxModuleSize's default.
	defaultMaxModuleSize = 64 << 20
	// moduleReadMaxBytes is the largest message ModuleService reads: a full
	// chunk and its framing. Larger messages are refused by Connect before
	// they are read whole.
	moduleReadMaxBytes = maxModuleChunk + 4<<10
	// moduleKind is the kind Push writes.
	moduleKind = "Module"
)

var _ waskv1connect.ModuleServiceHandler = (*Server)(nil)

// ModuleHandler returns the path to mount the ModuleService on and its
// handler. opts (e.g. authentication interceptors) apply to every RPC; a
// read limit of one chunk plus framing is added after them (the service
// never needs more, and a chunk must fit).
func (s *Server) ModuleHandler(opts ...connect.HandlerOption) (string, http.Handler) {
	opts = append(slices.Clip(opts), connect.WithReadMaxBytes(moduleReadMaxBytes))
	return waskv1connect.NewModuleServiceHandler(s, opts...)
}

// pushOnly refuses ObjectService writes of Modules: only Push creates and
// updates them (module.proto), so a Module's status is always what
// inspecting its bytes showed. Deleting one through ObjectService stays
// allowed; its blob stays on disk (garbage collection of blobs is later
// work, see blobs.go).
func pushOnly(k *kindInfo, op string) error {
	if k.name != moduleKind {
		return nil
	}
	return invalidArgument("Modules are created by ModuleService.Push (`wask push`): ObjectService cannot %s a Module", op)
}

// moduleServiceReady returns why the ModuleService can't serve, or nil.
func (s *Server) moduleServiceReady() error {
	if s.blobs == nil {
		return connect.NewError(connect.CodeUnimplemented, errors.New("module storage not configured: the apiserver has no module directory (Config.ModuleDir)"))
	}
	return nil
}

// Push stores a module; see ModuleService.Push.
func (s *Server) Push(ctx context.Context, stream *connect.ClientStream[waskv1.PushRequest]) (*connect.Response[waskv1.PushResponse], error) {
	if err := s.moduleServiceReady(); err != nil {
		return nil, err
	}
	if s.inspectModule == nil {
		return nil, failedPrecondition("module inspection not configured: the apiserver cannot check modules (Config.InspectModule)")
	}
	if !stream.Receive() {
		if err := stream.Err(); err != nil {
			return nil, translate(err, "push: read header")
		}
		return nil, invalidArgument("header: required: the first message must be a PushHeader")
	}
	h := stream.Msg().GetHeader()
	if h == nil {
		return nil, invalidArgument("header: required: the first message must be a PushHeader, not a chunk")
	}
	name, want, size, err := s.pushHeader(h)
	if err != nil {
		return nil, err
	}

	w, err := s.blobs.create()
	if err != nil {
		return nil, translate(err, "push")
	}
	defer w.abort() // unless committed
	// InspectModule needs the bytes in memory; grow with what arrives rather
	// than trusting the declared size.
	wasm := make([]byte, 0, min(size, maxModuleChunk))
	for i := 1; stream.Receive(); i++ {
		var chunk []byte
		switch m := stream.Msg().GetMsg().(type) {
		case *waskv1.PushRequest_Chunk:
			chunk = m.Chunk
		case *waskv1.PushRequest_Header:
			return nil, invalidArgument("message %d: a header may only be the first message", i)
		default:
			return nil, invalidArgument("message %d: neither header nor chunk", i)
		}
		if len(chunk) > maxModuleChunk {
			return nil, invalidArgument("message %d: chunk of %d bytes: at most %d (1 MiB) per chunk", i, len(chunk), maxModuleChunk)
		}
		if rest := size - int64(len(wasm)); int64(len(chunk)) > rest {
			// Stop reading at once: a client that lies about the size
			// must not make the server read unbounded data.
			return nil, invalidArgument("chunks: more bytes than the header's size of %d", size)
		}
		wasm = append(wasm, chunk...)
		if _, err := w.Write(chunk); err != nil {
			return nil, translate(err, "push")
		}
	}
	if err := stream.Err(); err != nil {
		return nil, translate(err, "push: read chunks")
	}
	if int64(len(wasm)) != size {
		return nil, invalidArgument("chunks: %d bytes received, but the header's size is %d", len(wasm), size)
	}
	hexDigest := w.hexDigest()
	digest := "sha256:" + hexDigest
	if want != "" && want != digest {
		return nil, invalidArgument("digest: the header says %s but the bytes hash to %s; nothing stored", want, digest)
	}
	status, err := s.inspectModule(ctx, wasm)
	if err != nil {
		if ctx.Err() != nil {
			return nil, translate(ctx.Err(), "push: inspect module")
		}
		var ce *connect.Error
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, invalidArgument("module: %v", err)
	}
	if status == nil {
		status = &waskv1.ModuleStatus{}
	} else {
		status = proto.Clone(status).(*waskv1.ModuleStatus)
	}
	status.Size = size
	if name == "" {
		name = "sha256-" + hexDigest
	}

	created, repaired, err := w.commit()
	if err != nil {
		return nil, translate(err, "push: store module "+digest)
	}
	if repaired {
		s.log.Warn("replaced a corrupted module blob with pushed bytes", "digest", digest)
	}
	mod, err := s.putModule(ctx, name, digest, status)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&waskv1.PushResponse{Module: mod, Created: created}), nil
}

// pushHeader checks a PushHeader and returns its name (maybe empty),
// expected digest (maybe empty) and size.
func (s *Server) pushHeader(h *waskv1.PushHeader) (name, digest string, size int64, err error) {
	var errs []string
	if h.GetName() != "" {
		if why := checkDNSSubdomain(h.GetName()); why != "" {
			errs = append(errs, "header.name: "+why)
		}
	}
	if d := h.GetDigest(); d != "" && !digestRe.MatchString(d) {
		errs = append(errs, fmt.Sprintf("header.digest: %q is not a digest (\"sha256:\" and 64 lowercase hex digits)", d))
	}
	if h.GetSize() <= 0 {
		errs = append(errs, "header.size: required (the module's size in bytes, more than 0)")
	}
	if len(errs) > 0 {
		return "", "", 0, invalidArgument("push: %s", strings.Join(errs, "; "))
	}
	if h.GetSize() > s.maxModuleSize {
		return "", "", 0, connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("header.size: %d bytes: modules may be at most %d bytes", h.GetSize(), s.maxModuleSize))
	}
	return h.GetName(), h.GetDigest(), h.GetSize(), nil
}

// putModule creates the Module name pointing at digest with status, or
// repoints an existing one, through the ObjectService's own write paths.
func (s *Server) putModule(ctx context.Context, name, digest string, status *waskv1.ModuleStatus) (*waskv1.Module, error) {
	k := kinds[moduleKind]
	for attempt := 0; attempt < maxWriteAttempts; attempt++ {
		out, err := s.create(ctx, k, &waskv1.Module{
			Metadata: &waskv1.ObjectMeta{Name: name},
			Spec:     &waskv1.ModuleSpec{Digest: digest},
		}, func(m proto.Message) {
			m.(*waskv1.Module).Status = proto.Clone(status).(*waskv1.ModuleStatus)
		})
		if connect.CodeOf(err) != connect.CodeAlreadyExists {
			if err != nil {
				return nil, err
			}
			return out.(*waskv1.Module), nil
		}
		out, err = s.write(ctx, k, &waskv1.Module{Metadata: &waskv1.ObjectMeta{Name: name}}, func(cur, next proto.Message) error {
			proto.Reset(next)
			proto.Merge(next, cur)
			m := next.(*waskv1.Module)
			if m.GetSpec().GetDigest() != digest {
				if m.GetMetadata().GetDeletionTimestamp() != nil {
					return failedPrecondition("module %q is being deleted: it can no longer be repointed", name)
				}
				m.Metadata.Generation++
			}
			m.Spec = &waskv1.ModuleSpec{Digest: digest}
			m.Status = proto.Clone(status).(*waskv1.ModuleStatus)
			return nil
		})
		if connect.CodeOf(err) == connect.CodeNotFound {
			continue // deleted since the create failed: create it again
		}
		if err != nil {
			return nil, err
		}
		return out.(*waskv1.Module), nil
	}
	return nil, aborted("module %q: changed by others %d times in a row; push again", name, maxWriteAttempts)
}

// Pull streams a module's bytes; see ModuleService.Pull.
func (s *Server) Pull(ctx context.Context, req *connect.Request[waskv1.PullRequest], stream *connect.ServerStream[waskv1.PullResponse]) error {
	if err := s.moduleServiceReady(); err != nil {
		return err
	}
	digest := req.Msg.GetDigest()
	if digest == "" {
		return invalidArgument("digest: required (\"sha256:\" and 64 lowercase hex digits)")
	}
	if !digestRe.MatchString(digest) {
		return invalidArgument("digest: %q is not a digest (\"sha256:\" and 64 lowercase hex digits)", digest)
	}
	hexDigest := strings.TrimPrefix(digest, "sha256:")
	// open reads the blob through once to check it, so that a corrupted
	// blob is refused before any of its bytes are sent.
	f, size, err := s.blobs.open(hexDigest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("module %s not found: push it first", digest))
	case errors.Is(err, errBlobCorrupt):
		return s.blobCorrupt(digest)
	case err != nil:
		return translate(err, "pull "+digest)
	}
	defer f.Close()

	// Hash again while sending, in case the file changed since the check.
	h := sha256.New()
	r := io.TeeReader(io.LimitReader(f, size+1), h)
	buf := make([]byte, maxModuleChunk)
	var sent int64
	first := &waskv1.PullResponse{Digest: digest, Size: size}
	for {
		n, err := io.ReadFull(r, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return translate(fmt.Errorf("read module blob: %w", err), "pull "+digest)
		}
		sent += int64(n)
		if sent > size {
			return s.blobCorrupt(digest)
		}
		last := err != nil || sent == size
		if last && (sent != size || hex.EncodeToString(h.Sum(nil)) != hexDigest) {
			return s.blobCorrupt(digest)
		}
		msg := &waskv1.PullResponse{Chunk: buf[:n]}
		if first != nil {
			msg, first = first, nil
			msg.Chunk = buf[:n]
		}
		if n > 0 || msg.Digest != "" {
			if err := stream.Send(msg); err != nil {
				return translate(err, "pull "+digest+": send")
			}
		}
		if last {
			return nil
		}
	}
}

// blobCorrupt is the DataLoss error of a blob whose bytes don't match its
// digest.
func (s *Server) blobCorrupt(digest string) error {
	s.log.Error("module blob is corrupted: its bytes do not match its digest; push the module again to repair it", "digest", digest)
	return connect.NewError(connect.CodeDataLoss, fmt.Errorf("module %s: the stored bytes are corrupted (they do not match the digest); push the module again", digest))
}
