package meshproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// tunnelClient keeps one QUIC connection per peer node (by mesh address)
// and sends each request on a new stream of it. A peer whose connection
// cannot be made or breaks is marked down at once; a prober redials it with
// back-off while some route still wants it, and marks it up when it
// answers.
//
//	        dial ok          conn fails or closes, dial fails, go-away
//	(none) ────────► up ───────────────────────────────► down
//	   ▲                ◄────────────────────────────────  │
//	   │             a probe connects (its conn is used)   │
//	   └───────────────── no route wants it ◄──────────────┘
type tunnelClient struct {
	tr          *quic.Transport
	tls         NodeTLS
	quic        *quic.Config
	dialTimeout time.Duration
	// wanted reports whether some route has endpoints at an address.
	wanted func(address string) bool
	logger *slog.Logger
	// onChange is told when a peer goes up or down (tests, metrics); may be nil.
	onChange func(address string, down bool)

	mu     sync.Mutex
	peers  map[string]*peer
	down   atomic.Pointer[map[string]bool] // addresses of down peers; replaced, never changed
	closed bool
	wg     sync.WaitGroup
	stop   chan struct{}
}

type peer struct {
	node  string
	ready chan struct{} // closed when the dial ended
	conn  *quic.Conn    // set before ready closes, if the dial worked
	err   error
	down  bool // the dial failed, the connection broke or the peer is going away

	inflight  atomic.Int64 // requests on conn whose response is not finished
	goingAway atomic.Bool  // the peer said it is draining: close conn when idle
}

// acquire counts a request on p's connection; release ends it, closing
// the connection of a peer going away when its last request ends.
func (p *peer) acquire() { p.inflight.Add(1) }

func (p *peer) release() {
	if p.inflight.Add(-1) == 0 && p.goingAway.Load() {
		p.conn.CloseWithError(0, "peer is going away")
	}
}

func newTunnelClient(tr *quic.Transport, nt NodeTLS, qc *quic.Config, dialTimeout time.Duration, wanted func(string) bool, logger *slog.Logger) *tunnelClient {
	c := &tunnelClient{tr: tr, tls: nt, quic: qc, dialTimeout: dialTimeout, wanted: wanted, logger: logger,
		peers: map[string]*peer{}, stop: make(chan struct{})}
	c.down.Store(&map[string]bool{})
	return c
}

// Down reports whether the peer at address is marked down. It takes no
// lock: every request's Pick asks.
func (c *tunnelClient) Down(address string) bool { return (*c.down.Load())[address] }

// downCount returns how many peers are marked down.
func (c *tunnelClient) downCount() int { return len(*c.down.Load()) }

// close closes every connection and waits for the probers and watchers.
func (c *tunnelClient) close() {
	c.mu.Lock()
	c.closed = true
	close(c.stop)
	peers := c.peers
	c.mu.Unlock()
	for _, p := range peers {
		select {
		case <-p.ready:
			if p.conn != nil {
				p.conn.CloseWithError(0, "node shutting down")
			}
		default:
		}
	}
	c.wg.Wait()
}

// peer returns the connected peer at address, dialling once for all
// callers. The error wraps errNotReached.
func (c *tunnelClient) peer(ctx context.Context, address, node string) (*peer, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("mesh: %w: proxy closed", errNotReached)
	}
	p := c.peers[address]
	if p == nil {
		p = c.startDial(address, node)
	}
	c.mu.Unlock()
	select {
	case <-p.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("mesh: connect to node %s at %s: %w (%w)", node, address, errNotReached, ctx.Err())
	}
	if p.conn == nil {
		return nil, fmt.Errorf("mesh: connect to node %s at %s: %w: %w", node, address, errNotReached, p.err)
	}
	return p, nil
}

// startDial registers a peer and runs it in the background. c.mu is held.
func (c *tunnelClient) startDial(address, node string) *peer {
	p := &peer{node: node, ready: make(chan struct{})}
	c.peers[address] = p
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run(p, address)
	}()
	return p
}

// run is the life of the peer at address: dial; while connected, watch the
// connection; when it fails or ends, mark the peer down and probe it; when
// a probe connects, that connection serves a fresh peer. It returns when
// the client closes or no route wants the address any more.
func (c *tunnelClient) run(p *peer, address string) {
	conn, err := c.dialConn(address, p.node)
	if err != nil {
		p.err = err
		close(p.ready)
		c.logger.Warn("mesh: node unreachable, marking its endpoints down", "node", p.node, "addr", address, "err", err)
	}
	for recovered := false; ; recovered = true {
		if conn != nil {
			if !c.connected(p, address, conn, recovered) {
				return
			}
		}
		c.setDown(p, address, true)
		if c.onChange != nil {
			c.onChange(address, true)
		}
		if conn = c.probe(p, address); conn == nil {
			return
		}
		c.mu.Lock()
		if c.closed || c.peers[address] != p {
			c.mu.Unlock()
			conn.CloseWithError(0, "node shutting down")
			return
		}
		p = &peer{node: p.node, ready: make(chan struct{}), down: true}
		c.peers[address] = p
		c.publishDown()
		c.mu.Unlock()
	}
}

// connected serves p with conn until the connection ends (it returns true:
// mark the node down) or the client closes (false).
func (c *tunnelClient) connected(p *peer, address string, conn *quic.Conn, recovered bool) bool {
	p.conn = conn
	close(p.ready)
	c.setDown(p, address, false)
	if recovered {
		c.logger.Info("mesh: node reachable again", "node", p.node, "addr", address)
		if c.onChange != nil {
			c.onChange(address, false)
		}
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.awaitGoAway(p, address)
	}()
	select {
	case <-conn.Context().Done():
		c.logger.Warn("mesh: connection to node lost, marking its endpoints down", "node", p.node, "addr", address, "err", context.Cause(conn.Context()))
		return true
	case <-c.stop:
		return false
	}
}

// probe redials a down peer with back-off until it connects (returning the
// connection), the client closes, another peer took the address, or no
// route wants it (the peer is forgotten); those return nil.
func (c *tunnelClient) probe(p *peer, address string) *quic.Conn {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.stop:
			t.Stop()
			return nil
		}
		c.mu.Lock()
		if c.closed || c.peers[address] != p {
			c.mu.Unlock()
			return nil
		}
		if !c.wanted(address) {
			delete(c.peers, address)
			c.publishDown()
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		if conn, err := c.dialConn(address, p.node); err == nil {
			return conn
		}
	}
}

// setDown marks p (if it is still the peer at address) down or up.
func (c *tunnelClient) setDown(p *peer, address string, down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peers[address] == p && p.down != down {
		p.down = down
		c.publishDown()
	}
}

// publishDown publishes the set of down addresses for lock-free reads by
// Down. c.mu is held.
func (c *tunnelClient) publishDown() {
	set := map[string]bool{}
	for addr, p := range c.peers {
		if p.down {
			set[addr] = true
		}
	}
	c.down.Store(&set)
}

// dialConn dials a peer; it gives up after dialTimeout or when the client
// closes.
func (c *tunnelClient) dialConn(address, node string) (*quic.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.dialTimeout)
	defer cancel()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	udp, err := net.ResolveUDPAddr("udp", address)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", address, err)
	}
	return c.tr.Dial(ctx, udp, c.tls.clientTLS(node), c.quic)
}

// awaitGoAway waits for the peer's go-away signal (a unidirectional
// stream, see tunnelServer.serve) until the connection ends.
func (c *tunnelClient) awaitGoAway(p *peer, address string) {
	str, err := p.conn.AcceptUniStream(p.conn.Context())
	if err != nil {
		return
	}
	var b [1]byte
	if _, err := io.ReadFull(str, b[:]); err != nil || b[0] != goAway {
		return
	}
	c.goingAway(p, address)
}

// goingAway marks a draining peer down without closing its connection: it
// refuses new requests while those in flight finish. Its connection closes
// when the last of them ends; then the usual probing brings it back when
// it is up again.
func (c *tunnelClient) goingAway(p *peer, address string) {
	c.mu.Lock()
	changed := c.peers[address] == p && !p.down
	if changed {
		p.down = true
		c.publishDown()
	}
	c.mu.Unlock()
	if !p.goingAway.Swap(true) {
		p.acquire()
		p.release() // closes the connection now if it is idle
	}
	if changed {
		c.logger.Info("mesh: node is shutting down, marking its endpoints down", "node", p.node, "addr", address)
		if c.onChange != nil {
			c.onChange(address, true)
		}
	}
}

// streamError classifies a failed request stream: a peer that refused it
// (draining) or does not run the pod never passed it to a pod, so unless
// some of its body may have been sent, the error wraps errNotReached.
func (c *tunnelClient) streamError(err error, p *peer, e *Endpoint, bodySent bool) error {
	var se *quic.StreamError
	if !errors.As(err, &se) || !se.Remote {
		return err
	}
	switch se.ErrorCode {
	case codeRefused:
		c.goingAway(p, e.Address)
	case codeNoPod:
	default:
		return err
	}
	if bodySent {
		return err
	}
	return fmt.Errorf("%w (%w)", errNotReached, err)
}

// RoundTrip sends r to the pod of e on its node over a new stream.
func (c *tunnelClient) RoundTrip(ctx context.Context, e *Endpoint, r *http.Request) (*http.Response, error) {
	p, err := c.peer(ctx, e.Address, e.Node)
	if err != nil {
		return nil, err
	}
	p.acquire()
	released := false
	release := func() {
		if !released {
			released = true
			p.release()
		}
	}
	if p.goingAway.Load() {
		release()
		return nil, fmt.Errorf("mesh: node %s is shutting down: %w", e.Node, errNotReached)
	}
	str, err := p.conn.OpenStreamSync(ctx)
	if err != nil {
		release()
		return nil, fmt.Errorf("mesh: open stream to node %s: %w: %w", e.Node, errNotReached, err)
	}
	stop := context.AfterFunc(ctx, func() {
		str.CancelRead(codeCanceled)
		str.CancelWrite(codeCanceled)
	})
	cl := r.ContentLength
	hasBody := r.Body != nil && r.Body != http.NoBody
	if !hasBody {
		cl = 0
	} else if cl == 0 {
		cl = -1 // a body of unknown length
	}
	head := (&requestHead{
		Namespace: e.Namespace, Pod: e.Pod, Method: r.Method, RequestURI: r.URL.RequestURI(), Host: r.Host,
		RemoteAddr: r.RemoteAddr, ContentLength: cl, Header: r.Header,
	}).appendTo(nil)
	if _, err := str.Write(frame(head)); err != nil {
		stop()
		str.CancelRead(codeCanceled)
		release()
		return nil, c.streamError(fmt.Errorf("mesh: send request to node %s: %w", e.Node, err), p, e, false)
	}
	if hasBody {
		go func() {
			if _, err := io.Copy(str, r.Body); err != nil {
				str.CancelWrite(codeCanceled)
				return
			}
			str.Close()
		}()
	} else {
		str.Close()
	}
	br := getReader(str)
	b, err := readHead(br)
	var h *responseHead
	if err == nil {
		h, err = decodeResponseHead(b)
	}
	if err != nil {
		stop()
		str.CancelRead(codeCanceled)
		putReader(br)
		release()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("mesh: response from node %s: %w", e.Node, ctx.Err())
		}
		// A body the caller can send again (GetBody) does not stop a retry.
		return nil, c.streamError(fmt.Errorf("mesh: response from node %s: %w", e.Node, err), p, e, hasBody && r.GetBody == nil)
	}
	resp := &http.Response{
		Status: fmt.Sprintf("%d %s", h.Status, http.StatusText(h.Status)), StatusCode: h.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h.Header, ContentLength: h.ContentLength, Request: r,
		Body: &tunnelBody{r: br, str: str, stop: stop, release: release, remaining: h.ContentLength},
	}
	if h.ContentLength == 0 {
		resp.Body.Close()
		resp.Body = http.NoBody
	}
	return resp, nil
}

// tunnelBody is a response body read from a stream. A body of known
// length ends when that many bytes are read, without waiting for the
// stream's end, which may come in a packet of its own.
type tunnelBody struct {
	r         *bufio.Reader
	str       *quic.Stream
	stop      func() bool
	release   func()
	remaining int64 // bytes of a known length still to read; -1: unknown
	eof       bool  // the stream's end was read
}

func (b *tunnelBody) Read(p []byte) (int, error) {
	if b.r == nil {
		return 0, errors.New("meshproxy: read of a closed response body")
	}
	if b.remaining == 0 {
		return 0, io.EOF
	}
	if b.remaining > 0 && int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.r.Read(p)
	if b.remaining > 0 {
		b.remaining -= int64(n)
		if b.remaining == 0 && err == nil {
			err = io.EOF
		}
	}
	switch {
	case err == io.EOF && b.remaining > 0:
		err = io.ErrUnexpectedEOF
		b.eof = true
	case err == io.EOF && b.remaining < 0:
		b.eof = true
	}
	return n, err
}

// Close stops reading; a body not read to the stream's end resets the
// stream, unless the end is already there to read.
func (b *tunnelBody) Close() error {
	if b.r == nil {
		return nil
	}
	b.stop()
	if !b.eof && !b.endBuffered() {
		b.str.CancelRead(codeCanceled)
	}
	putReader(b.r)
	b.r = nil
	b.release()
	return nil
}

// endBuffered reports whether the stream's end has arrived after a body of
// known length, reading it without waiting: so the stream completes
// without a STOP_SENDING to the peer.
func (b *tunnelBody) endBuffered() bool {
	if b.remaining != 0 || b.r.Buffered() > 0 {
		return false
	}
	b.str.SetReadDeadline(time.Now().Add(-time.Second))
	var one [1]byte
	n, err := b.str.Read(one[:])
	return n == 0 && err == io.EOF
}
