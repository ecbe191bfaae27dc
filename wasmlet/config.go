package wasmlet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"time"

	"github.com/wask-dev/wask/client"
)

// Config configures a Wasmlet. Name, DataDir and Client.Server are required;
// everything else has a default, given on each field.
type Config struct {
	// Client says how to reach the apiserver. Its Token is the node join
	// secret; NodeName is set to Name. The same secret authenticates the
	// callers of the node's own API (the apiserver proxying logs).
	Client client.Config
	// Name is the Node's name: a DNS-1123 subdomain. Required.
	Name string
	// DataDir holds the node's module cache (modules/), the compilation
	// cache (compiled/) and the API's certificate. Required.
	DataDir string
	// CompilationCacheDir is wazero's on-disk compilation cache; nodes on
	// one machine may share one. Default: <DataDir>/compiled.
	CompilationCacheDir string

	// APIAddr is where the node's own API (logs) listens, host:port.
	// Default "127.0.0.1:0" (any free port). "-" serves no API.
	APIAddr string
	// IngressAddr and MeshAddr are published in the Node's addresses for
	// the meshproxy's listeners (the wasmlet does not listen on them).
	// Default: unset.
	IngressAddr, MeshAddr string
	// InternalIP is the node's address for others. Default: the host of
	// APIAddr when it is an IP other than unspecified, else 127.0.0.1.
	InternalIP string
	// Labels are the Node's labels (merged with "wask.dev/hostname" etc.
	// set by users later: the wasmlet only adds, never removes, labels).
	Labels map[string]string

	// Capacity is what the node offers pods. Defaults: Memory 4 GiB,
	// CPUMilli 2000 (two cores), Pods 10000.
	Capacity Capacity

	// LeaseRenewInterval is how often the node renews its Lease (its
	// heartbeat). Default 1 s. LeaseDuration is how long one renewal
	// holds. Default 10 s (at least 2 × LeaseRenewInterval).
	LeaseRenewInterval time.Duration
	LeaseDuration      time.Duration
	// FenceAfter, when positive, is how long the node keeps running its
	// pods without renewing its Lease; past it the node stops them itself
	// (fencing: the control plane may already have replaced them on other
	// nodes, after node lifecycle's grace and toleration: 3 s + 2 s by
	// default), and starts the ones still bound to it again once a renewal
	// succeeds. Default 0: never, as pods keep running when the control
	// plane is away (Kubernetes' behaviour; Nomad's
	// stop_after_client_disconnect is the same opt-in).
	FenceAfter time.Duration
	// NodeStatusInterval is how often the Node's status (Ready condition's
	// heartbeat) is rewritten even without a change. Default 1 minute.
	NodeStatusInterval time.Duration

	// AllowedHostPaths are the host directories (and their subdirectories)
	// that pods may mount; a pod mounting anything else fails with reason
	// "MountNotAllowed". Default: none.
	AllowedHostPaths []string
	// Outbound serves guests' calls through the wask host module; the
	// wasmlet checks the pod lists the Service (spec.outbound) before
	// calling it. Nil: every outbound call fails with a clear error (until
	// the meshproxy provides it).
	Outbound OutboundFunc

	// RestartBackoff is the first delay before a failed command pod is
	// restarted; it doubles with each restart up to MaxRestartBackoff, and
	// resets after a run that lasted BackoffReset. Defaults: 10 s, 5 min
	// and 10 min (the kubelet's CrashLoopBackOff).
	RestartBackoff    time.Duration
	MaxRestartBackoff time.Duration
	BackoffReset      time.Duration

	// LogBufferBytes bounds each pod's log ring buffer (and, as much
	// again, its previous run's). Default 64 KiB.
	LogBufferBytes int
	// CompiledCacheBytes bounds the compiled modules kept in memory while
	// no pod uses them, in bytes of module code. Default 256 MiB.
	CompiledCacheBytes int64
	// SyncWorkers is how many pods are synced at once. Default 8.
	SyncWorkers int
	// StatusWorkers is how many pod status writes are in flight at once.
	// Default 8.
	StatusWorkers int

	// Version is reported in the Node's nodeInfo. Default "dev".
	Version string
	// Logger receives the node's logs. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock for timestamps. Default: time.Now.
	Now func() time.Time
}

// Capacity is what a node offers pods.
type Capacity struct {
	// Memory in bytes.
	Memory int64
	// CPUMilli in thousandths of a core.
	CPUMilli int64
	// Pods is the largest number of pods.
	Pods int
}

// OutboundFunc sends one request of the pod namespace/pod to a Service.
// req.URL.Host names the Service ("name" or "name.namespace").
type OutboundFunc func(ctx context.Context, namespace, pod string, req *http.Request) (*http.Response, error)

var dnsSubdomainRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// withDefaults checks cfg and fills its defaults.
func (cfg Config) withDefaults() (Config, error) {
	switch {
	case cfg.Name == "":
		return cfg, errors.New("wasmlet: config: Name is required")
	case len(cfg.Name) > 253 || !dnsSubdomainRe.MatchString(cfg.Name):
		return cfg, fmt.Errorf("wasmlet: config: Name %q must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.')", cfg.Name)
	case cfg.DataDir == "":
		return cfg, errors.New("wasmlet: config: DataDir is required")
	case cfg.Client.Server == "":
		return cfg, errors.New("wasmlet: config: Client.Server is required")
	}
	cfg.Client.NodeName = cfg.Name
	if cfg.CompilationCacheDir == "" {
		cfg.CompilationCacheDir = filepath.Join(cfg.DataDir, "compiled")
	}
	if cfg.APIAddr == "" {
		cfg.APIAddr = "127.0.0.1:0"
	}
	if cfg.InternalIP == "" {
		cfg.InternalIP = "127.0.0.1"
		if host, _, err := net.SplitHostPort(cfg.APIAddr); err == nil {
			if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
				cfg.InternalIP = host
			}
		}
	}
	for i, p := range cfg.AllowedHostPaths {
		if !filepath.IsAbs(p) {
			return cfg, fmt.Errorf("wasmlet: config: AllowedHostPaths[%d]: %q is not an absolute path", i, p)
		}
		cfg.AllowedHostPaths[i] = filepath.Clean(p)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.LeaseRenewInterval, time.Second)
	def(&cfg.LeaseDuration, 10*time.Second)
	cfg.LeaseDuration = max(cfg.LeaseDuration, 2*cfg.LeaseRenewInterval)
	def(&cfg.NodeStatusInterval, time.Minute)
	def(&cfg.RestartBackoff, 10*time.Second)
	def(&cfg.MaxRestartBackoff, 5*time.Minute)
	def(&cfg.BackoffReset, 10*time.Minute)
	if cfg.Capacity.Memory <= 0 {
		cfg.Capacity.Memory = 4 << 30
	}
	if cfg.Capacity.CPUMilli <= 0 {
		cfg.Capacity.CPUMilli = 2000
	}
	if cfg.Capacity.Pods <= 0 {
		cfg.Capacity.Pods = 10000
	}
	if cfg.LogBufferBytes <= 0 {
		cfg.LogBufferBytes = 64 << 10
	}
	if cfg.CompiledCacheBytes <= 0 {
		cfg.CompiledCacheBytes = 256 << 20
	}
	if cfg.SyncWorkers <= 0 {
		cfg.SyncWorkers = 8
	}
	if cfg.StatusWorkers <= 0 {
		cfg.StatusWorkers = 8
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}
