package meshproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// Config configures a Proxy. Required: Client, NodeName, Local, TLS.
type Config struct {
	// Client reaches the apiserver; the proxy watches Services and
	// Endpoints in every namespace with it.
	Client *client.Client
	// NodeName is this node's name: endpoints on it are called through
	// Local, in-process.
	NodeName string
	// Local calls this node's pods (the wasmlet).
	Local Local
	// TLS is the node's certificate and the cluster CA, for the mesh.
	TLS NodeTLS

	// IngressAddr is the TCP address of the HTTP ingress. Default ":8080".
	IngressAddr string
	// IngressListener, if set, is used instead of listening on IngressAddr.
	IngressListener net.Listener
	// IngressTLS, if set, makes the ingress serve HTTPS (HTTP/1.1 and h2);
	// otherwise it serves cleartext HTTP/1.1 and h2c. Default nil.
	IngressTLS *tls.Config
	// MeshAddr is the UDP address of the QUIC listener other nodes tunnel
	// to (the node's "Mesh" address). Default ":7443".
	MeshAddr string
	// MeshConn, if set, is used instead of listening on MeshAddr.
	MeshConn net.PacketConn

	// ClusterDomain is the optional suffix of Service host names.
	// Default DefaultClusterDomain.
	ClusterDomain string
	// RequestTimeout bounds a request through the ingress (504 after it).
	// Default 60s; the pod's own limits.timeout usually ends it sooner.
	RequestTimeout time.Duration
	// PeerTimeout is how long a silent peer node's connection lives:
	// a node that dies without closing is marked down after it. Default 5s.
	PeerTimeout time.Duration
	// DialTimeout bounds connecting to a peer node. Default 2s.
	DialTimeout time.Duration
	// ShutdownGrace is how long a stopping proxy lets requests from other
	// nodes that are in flight finish (new ones are refused and retried
	// elsewhere by the caller). Default 5s.
	ShutdownGrace time.Duration
	// MaxRetries is how many other endpoints a request that never reached
	// its pod is tried on. Default 2; negative: none.
	MaxRetries int

	// Registry gets the proxy's metrics; nil: not registered.
	Registry prometheus.Registerer
	// Logger; default slog.Default(). Access logs are at Info level.
	Logger *slog.Logger
	// Rand returns a uniform random int in [0, n). Default math/rand/v2.IntN.
	Rand func(n int) int
	// NewRequestID makes the id of a request that has none. Default: 16 random hex digits.
	NewRequestID func() string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() error {
	switch {
	case c.Client == nil:
		return errors.New("meshproxy: config: Client: required")
	case c.NodeName == "":
		return errors.New("meshproxy: config: NodeName: required")
	case c.Local == nil:
		return errors.New("meshproxy: config: Local: required (the wasmlet's in-process Invoke)")
	}
	if err := c.TLS.check(); err != nil {
		return err
	}
	if c.IngressAddr == "" {
		c.IngressAddr = ":8080"
	}
	if c.MeshAddr == "" {
		c.MeshAddr = ":7443"
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.PeerTimeout == 0 {
		c.PeerTimeout = 5 * time.Second
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 2 * time.Second
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 5 * time.Second
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 2
	} else if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Rand == nil {
		c.Rand = rand.IntN
	}
	if c.NewRequestID == nil {
		c.NewRequestID = func() string { return fmt.Sprintf("%016x", rand.Uint64()) }
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	for name, d := range map[string]time.Duration{"RequestTimeout": c.RequestTimeout, "PeerTimeout": c.PeerTimeout, "DialTimeout": c.DialTimeout, "ShutdownGrace": c.ShutdownGrace} {
		if d < 0 {
			return fmt.Errorf("meshproxy: config: %s: must not be negative, not %v", name, d)
		}
	}
	return nil
}

// Proxy is a node's meshproxy.
type Proxy struct {
	cfg      Config
	table    atomic.Pointer[Table]
	loads    loads
	tunnel   atomic.Pointer[tunnelClient] // set while Run runs
	fwd      *forwarder
	ingress  *ingress
	metrics  *metrics
	services *client.Informer
	eps      *client.Informer
	changed  chan struct{}
	running  atomic.Bool
}

// New checks cfg and returns a proxy; Run starts it.
func New(cfg Config) (*Proxy, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	p := &Proxy{cfg: cfg, metrics: m, changed: make(chan struct{}, 1)}
	if cfg.Registry != nil {
		down := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wask_mesh_peers_down", Help: "Peer nodes marked down (connection failed or closed, or draining).",
		}, func() float64 {
			if tc := p.tunnel.Load(); tc != nil {
				return float64(tc.downCount())
			}
			return 0
		})
		if err := cfg.Registry.Register(down); err != nil {
			return nil, fmt.Errorf("meshproxy: register metrics: %w", err)
		}
	}
	p.table.Store(Build(nil, nil, p.tableOptions()))
	p.fwd = &forwarder{local: cfg.Local, remote: (*proxyRemote)(p), intn: cfg.Rand, maxRetries: cfg.MaxRetries, metrics: m}
	p.ingress = &ingress{table: p.table.Load, fwd: p.fwd, timeout: cfg.RequestTimeout, newID: cfg.NewRequestID,
		now: cfg.Now, logger: cfg.Logger, metrics: m}
	notify := client.Handler{
		OnAdd:    func(*waskv1.Object) { p.notify() },
		OnUpdate: func(old, obj *waskv1.Object) { p.notify() },
		OnDelete: func(*waskv1.Object) { p.notify() },
	}
	for _, kind := range []string{"Service", "Endpoints"} {
		inf, err := client.NewInformer(cfg.Client, client.InformerOptions{Kind: kind, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("meshproxy: %w", err)
		}
		inf.AddHandler(notify)
		if kind == "Service" {
			p.services = inf
		} else {
			p.eps = inf
		}
	}
	return p, nil
}

func (p *Proxy) tableOptions() TableOptions {
	return TableOptions{ClusterDomain: p.cfg.ClusterDomain, LocalNode: p.cfg.NodeName}
}

func (p *Proxy) notify() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// Table returns the current route table (never nil; do not modify).
func (p *Proxy) Table() *Table { return p.table.Load() }

// Handler is the ingress handler (Run serves it on the ingress listener).
func (p *Proxy) Handler() http.Handler { return p.ingress }

// Run listens, watches Services and Endpoints, and routes until ctx ends;
// it returns after everything it started has stopped.
func (p *Proxy) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("meshproxy: Run called twice")
	}
	lis := p.cfg.IngressListener
	if lis == nil {
		var err error
		if lis, err = net.Listen("tcp", p.cfg.IngressAddr); err != nil {
			return fmt.Errorf("meshproxy: ingress: %w", err)
		}
	}
	udp := p.cfg.MeshConn
	if udp == nil {
		var err error
		if udp, err = net.ListenPacket("udp", p.cfg.MeshAddr); err != nil {
			lis.Close()
			return fmt.Errorf("meshproxy: mesh: %w", err)
		}
	}
	tr := &quic.Transport{Conn: udp}
	qc := quicConfig(p.cfg.PeerTimeout)
	ln, err := tr.Listen(p.cfg.TLS.serverTLS(), qc)
	if err != nil {
		lis.Close()
		udp.Close()
		return fmt.Errorf("meshproxy: mesh listen on %s: %w", udp.LocalAddr(), err)
	}
	tc := newTunnelClient(tr, p.cfg.TLS, qc, p.cfg.DialTimeout, p.wanted, p.cfg.Logger)
	p.tunnel.Store(tc)
	p.cfg.Logger.Info("meshproxy: running", "node", p.cfg.NodeName, "ingress", lis.Addr(), "mesh", udp.LocalAddr())

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		if err != nil {
			errOnce.Do(func() { firstErr = err; cancel(err) })
		}
	}
	goRun := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail(f())
		}()
	}
	goRun(func() error { return p.services.Run(ctx) })
	goRun(func() error { return p.eps.Run(ctx) })
	srv := &tunnelServer{local: p.cfg.Local, logger: p.cfg.Logger, grace: p.cfg.ShutdownGrace}
	goRun(func() error { srv.serve(ctx, ln); return nil })
	goRun(func() error {
		synced := p.services.WaitForSync(ctx) == nil && p.eps.WaitForSync(ctx) == nil
		if synced {
			p.rebuild()
		}
		serveErr := make(chan error, 1)
		if synced {
			go func() { serveErr <- serveHTTP(ctx, lis, p.ingress, p.cfg.IngressTLS, p.cfg.Logger) }()
		} else {
			lis.Close()
			serveErr <- nil
		}
		for {
			select {
			case <-p.changed:
				p.rebuild()
			case err := <-serveErr:
				return err
			}
		}
	})
	<-ctx.Done()
	wg.Wait()
	p.tunnel.Store(nil)
	tc.close()
	ln.Close()
	tr.Close()
	udp.Close()
	return firstErr
}

// rebuild makes a new table from the informers' caches and swaps it in.
func (p *Proxy) rebuild() {
	var services []*waskv1.Service
	for _, o := range p.services.List() {
		if s, err := client.As[*waskv1.Service](o); err == nil {
			services = append(services, s)
		}
	}
	var eps []*waskv1.Endpoints
	for _, o := range p.eps.List() {
		if e, err := client.As[*waskv1.Endpoints](o); err == nil {
			eps = append(eps, e)
		}
	}
	t := Build(services, eps, p.tableOptions())
	p.loads.attach(t)
	p.table.Store(t)
	for _, c := range t.Conflicts {
		p.cfg.Logger.Warn("meshproxy: path prefix claimed twice", "conflict", c)
	}
	p.cfg.Logger.Debug("meshproxy: routes rebuilt", "services", len(services), "endpoints", len(eps), "revision", p.eps.Revision())
}

// wanted reports whether a route still has endpoints at a mesh address.
func (p *Proxy) wanted(address string) bool { return p.table.Load().addresses[address] }

// proxyRemote is the tunnel while Run runs.
type proxyRemote Proxy

func (r *proxyRemote) RoundTrip(ctx context.Context, e *Endpoint, req *http.Request) (*http.Response, error) {
	tc := r.tunnel.Load()
	if tc == nil {
		return nil, fmt.Errorf("mesh: %w: the proxy is not running", errNotReached)
	}
	return tc.RoundTrip(ctx, e, req)
}

func (r *proxyRemote) Down(address string) bool {
	tc := r.tunnel.Load()
	return tc == nil || tc.Down(address)
}
