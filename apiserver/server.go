package apiserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/api/wask/v1/waskv1connect"
	"github.com/wask-dev/wask/internal/pki"
	"github.com/wask-dev/wask/store"
)

// Config configures a Server. Only Store is required.
type Config struct {
	// Store holds the objects. Required; the Server never closes it.
	Store *store.Store
	// Logger receives the server's logs. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock for creation and deletion timestamps and conditions.
	// Default: time.Now.
	Now func() time.Time
	// Rand is the source of uids (random UUID v4). Default: crypto/rand.
	Rand io.Reader
	// BookmarkInterval is how often a watch with allow_bookmarks may get a
	// BOOKMARK event. Default: 5 seconds.
	BookmarkInterval time.Duration
	// MaxBindings is the largest number of bindings one Bind accepts.
	// Default: 1000.
	MaxBindings int

	// ModuleDir is the directory of module blobs, kept content-addressed
	// as <ModuleDir>/sha256/<64 hex digits> (see blobs.go). Required for
	// ModuleService: while empty, Push and Pull fail with Unimplemented.
	ModuleDir string
	// InspectModule validates a module (compiles it) and describes it; its
	// error message is returned to the pusher as InvalidArgument. The
	// apiserver may not import wazero, so cmd/wask injects this (built on
	// wasmlet/sandbox.Inspect). Nil: Push fails with FailedPrecondition.
	InspectModule func(ctx context.Context, wasm []byte) (*waskv1.ModuleStatus, error)
	// MaxModuleSize is the largest module Push accepts, in bytes; a larger
	// declared size fails with ResourceExhausted. Default: 64 MiB.
	MaxModuleSize int64
	// CA is the cluster CA (with its key) that CertificateService signs
	// node certificates with. Nil: IssueNodeCertificate fails with
	// FailedPrecondition.
	CA *pki.CA
}

// Server implements wask.v1.ObjectService on a store, and
// wask.v1.ModuleService (modules.go) on the store and a module directory.
type Server struct {
	st               *store.Store
	log              *slog.Logger
	now              func() time.Time
	bookmarkInterval time.Duration
	maxBindings      int

	blobs         *blobStore // nil without Config.ModuleDir
	inspectModule func(ctx context.Context, wasm []byte) (*waskv1.ModuleStatus, error)
	maxModuleSize int64
	ca            *pki.CA // nil: no node certificates (certificates.go)

	randMu sync.Mutex // guards rand
	rand   io.Reader

	fanoutMu sync.Mutex                 // guards fanouts
	fanouts  map[*kindInfo]*watchFanout // the shared watch fan-out of each kind being watched (fanout.go)
	// watchQueueLimit is fanoutQueueLimit (smaller in tests).
	watchQueueLimit int
}

var _ waskv1connect.ObjectServiceHandler = (*Server)(nil)

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("apiserver: config: Store is required")
	}
	s := &Server{
		st:               cfg.Store,
		log:              cfg.Logger,
		now:              cfg.Now,
		rand:             cfg.Rand,
		bookmarkInterval: cfg.BookmarkInterval,
		maxBindings:      cfg.MaxBindings,
		inspectModule:    cfg.InspectModule,
		maxModuleSize:    cfg.MaxModuleSize,
		fanouts:          make(map[*kindInfo]*watchFanout),
		watchQueueLimit:  fanoutQueueLimit,
		ca:               cfg.CA,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.bookmarkInterval <= 0 {
		s.bookmarkInterval = 5 * time.Second
	}
	if s.maxBindings <= 0 {
		s.maxBindings = 1000
	}
	if cfg.ModuleDir != "" {
		s.blobs = newBlobStore(cfg.ModuleDir)
	}
	if s.maxModuleSize <= 0 {
		s.maxModuleSize = defaultMaxModuleSize
	}
	return s, nil
}

// Handler returns the path to mount the ObjectService on and its handler.
// opts (e.g. authentication interceptors, read limits) apply to every RPC.
func (s *Server) Handler(opts ...connect.HandlerOption) (string, http.Handler) {
	return waskv1connect.NewObjectServiceHandler(s, append(jsonCodecs(), opts...)...)
}

// newUID returns a random UUID (version 4).
func (s *Server) newUID() (string, error) {
	var b [16]byte
	s.randMu.Lock()
	_, err := io.ReadFull(s.rand, b[:])
	s.randMu.Unlock()
	if err != nil {
		return "", connect.NewError(connect.CodeInternal, fmt.Errorf("make uid: %w", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
