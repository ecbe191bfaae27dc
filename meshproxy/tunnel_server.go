package meshproxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// Stream error codes of the tunnel.
const (
	codeBadRequest quic.StreamErrorCode = 1 // the head could not be read
	codeCanceled   quic.StreamErrorCode = 2 // the caller gave up
	codeAborted    quic.StreamErrorCode = 3 // the server's handler ended without a complete response
	// codeRefused: the node is draining and did not pass the request to a
	// pod; the caller may send it elsewhere.
	codeRefused quic.StreamErrorCode = 4
	// codeNoPod: the pod does not run on this node (PodChecker), or did
	// not take the request (HeaderNotReached); no pod read it.
	codeNoPod quic.StreamErrorCode = 5
)

// goAway is the byte a draining server sends on a unidirectional stream:
// send no new requests, close the connection when those in flight are done.
const goAway = 'G'

// tunnelServer serves requests from peer nodes to local pods.
type tunnelServer struct {
	local  Local
	logger *slog.Logger
	// grace bounds how long a stopping server lets requests in flight
	// finish before it closes its connections.
	grace time.Duration

	draining atomic.Bool
	streams  sync.WaitGroup // requests in flight
	wg       sync.WaitGroup // connection goroutines

	mu    sync.Mutex
	conns map[*quic.Conn]bool
}

// serve accepts connections until ctx ends, then drains: it accepts no new
// connection, tells each peer it is going away (the peer marks this node
// down, sends nothing new, and closes the connection when its requests in
// flight are done), refuses requests that cross that message (codeRefused:
// the peer retries them elsewhere), and closes whatever connection is
// still open after grace. It returns after every goroutine it started has
// ended.
//
//	serving ──ctx ends──► draining ──peers closed, or grace over──► closed
func (s *tunnelServer) serve(ctx context.Context, ln *quic.Listener) {
	s.conns = map[*quic.Conn]bool{}
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			conn, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[conn] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serveConn(conn)
			}()
		}
	}()
	<-ctx.Done()
	s.mu.Lock()
	s.draining.Store(true) // under mu: no stream is added once Wait may run
	s.mu.Unlock()
	ln.Close()
	<-accepted
	s.mu.Lock()
	for conn := range s.conns {
		if str, err := conn.OpenUniStream(); err == nil {
			str.Write([]byte{goAway})
			str.Close()
		}
	}
	s.mu.Unlock()
	closed := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(closed)
	}()
	t := time.NewTimer(s.grace)
	select {
	case <-closed:
	case <-t.C:
		s.logger.Warn("mesh: peers still connected after the grace period; closing", "grace", s.grace)
		s.mu.Lock()
		for conn := range s.conns {
			conn.CloseWithError(0, "node shutting down")
		}
		s.mu.Unlock()
		<-closed
	}
	t.Stop()
	s.streams.Wait()
}

// maxIdleAcceptors bounds the goroutines of a connection that wait for
// its next stream; a burst's extra ones end once it is over.
const maxIdleAcceptors = 4

// serveConn serves the streams of conn until it ends. The goroutines that
// serve streams also accept them: quic-go hands a new stream straight to
// one waiting in AcceptStream, so a request costs no hand-off from an
// accept loop to a new goroutine (one thread wake-up fewer per request
// on this side). One goroutine is always waiting; one that takes a stream
// with no other waiting starts another first.
func (s *tunnelServer) serveConn(conn *quic.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()
	peer := conn.ConnectionState().TLS.PeerCertificates[0].Subject.CommonName
	s.logger.Debug("mesh: peer connected", "peer", peer, "addr", conn.RemoteAddr())
	var (
		idle    atomic.Int32 // goroutines in AcceptStream
		workers sync.WaitGroup
		lastErr atomic.Pointer[error]
	)
	var accept func()
	accept = func() {
		for {
			idle.Add(1)
			str, err := conn.AcceptStream(context.Background())
			waiting := idle.Add(-1)
			if err != nil {
				lastErr.Store(&err)
				return
			}
			s.mu.Lock()
			draining := s.draining.Load()
			if !draining {
				s.streams.Add(1)
			}
			s.mu.Unlock()
			if draining {
				str.CancelRead(codeRefused)
				str.CancelWrite(codeRefused)
				continue
			}
			if waiting == 0 {
				workers.Go(accept)
			}
			s.serveStream(str, peer)
			s.streams.Done()
			if idle.Load() >= maxIdleAcceptors {
				return
			}
		}
	}
	workers.Go(accept)
	workers.Wait()
	if err := lastErr.Load(); err != nil {
		s.logger.Debug("mesh: peer connection ended", "peer", peer, "err", *err)
	}
}

func (s *tunnelServer) serveStream(str *quic.Stream, peer string) {
	br := getReader(str)
	defer putReader(br)
	b, err := readHead(br)
	var h *requestHead
	if err == nil {
		h, err = decodeRequestHead(b)
	}
	var u *url.URL
	if err == nil {
		u, err = url.ParseRequestURI(h.RequestURI)
	}
	if err != nil {
		s.logger.Warn("mesh: bad request from peer", "peer", peer, "err", err)
		str.CancelRead(codeBadRequest)
		str.CancelWrite(codeBadRequest)
		return
	}
	if !serves(s.local, h.Namespace, h.Pod) {
		str.CancelRead(codeNoPod)
		str.CancelWrite(codeNoPod)
		return
	}
	body := io.ReadCloser(http.NoBody)
	if h.ContentLength != 0 {
		body = io.NopCloser(br)
	}
	ctx := str.Context()
	r := (&http.Request{
		Method: h.Method, URL: u, RequestURI: h.RequestURI, Host: h.Host, RemoteAddr: h.RemoteAddr,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h.Header, ContentLength: h.ContentLength, Body: body,
	}).WithContext(ctx)
	w := &tunnelResponseWriter{str: str, header: http.Header{}}
	completed := false
	defer func() {
		if v := recover(); v != nil {
			s.logger.Error("mesh: pod call panicked", "namespace", h.Namespace, "pod", h.Pod, "peer", peer, "panic", v)
		}
		if !completed {
			str.CancelRead(codeAborted)
			str.CancelWrite(codeAborted)
		}
	}()
	s.local.Invoke(ctx, h.Namespace, h.Pod, w, r)
	if !w.headSent && w.header.Get(HeaderNotReached) != "" {
		str.CancelRead(codeNoPod) // the caller sends it elsewhere
		str.CancelWrite(codeNoPod)
		completed = true // ended as it should
		return
	}
	if err := w.finish(); err != nil {
		return
	}
	str.CancelRead(0) // whatever of the body the pod did not read
	completed = str.Close() == nil
}

// tunnelResponseWriter writes a response head and body to a stream. Like
// net/http's server it holds back the head while the body is small and not
// flushed, so a short response goes with its length.
type tunnelResponseWriter struct {
	str      io.Writer
	header   http.Header
	status   int
	headSent bool
	pending  []byte
	err      error
}

// pendingLimit is how much body is held back before the head goes out
// without a length.
const pendingLimit = 4096

func (w *tunnelResponseWriter) Header() http.Header { return w.header }

func (w *tunnelResponseWriter) WriteHeader(code int) {
	if w.status != 0 || code < 200 { // informational responses are not forwarded
		return
	}
	w.status = code
}

func (w *tunnelResponseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.headSent {
		if len(w.pending)+len(b) <= pendingLimit {
			w.pending = append(w.pending, b...)
			return len(b), nil
		}
		w.sendHead(-1)
		if w.err != nil {
			return 0, w.err
		}
	}
	n, err := w.str.Write(b)
	w.err = err
	return n, err
}

// sendHead writes the head (with the Content-Length header's value if set,
// else length) and the held-back body.
func (w *tunnelResponseWriter) sendHead(length int64) {
	if w.headSent {
		return
	}
	w.headSent = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if v := w.header.Get("Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			length = n
		}
	}
	head := (&responseHead{Status: w.status, ContentLength: length, Header: w.header}).appendTo(nil)
	_, w.err = w.str.Write(append(frame(head), w.pending...)) // one write: often one packet
	w.pending = nil
}

// Flush sends what has been written so far (QUIC sends stream data
// without delay once written).
func (w *tunnelResponseWriter) Flush() { w.sendHead(-1) }

func (w *tunnelResponseWriter) finish() error {
	w.sendHead(int64(len(w.pending)))
	if w.err != nil {
		return errors.Join(errors.New("meshproxy: write response to peer"), w.err)
	}
	return nil
}
