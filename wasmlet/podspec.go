package wasmlet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/wasmlet/sandbox"
)

// Downward-API environment variables every guest gets, unless its spec
// says downwardEnv: false.
const (
	EnvPodName   = "WASK_POD_NAME"
	EnvNamespace = "WASK_NAMESPACE"
	EnvNodeName  = "WASK_NODE_NAME"
)

// specError is a pod spec the node cannot run, whatever it retries: the
// pod fails with Reason.
type specError struct {
	Reason string
	err    error
}

func (e *specError) Error() string { return e.err.Error() }
func (e *specError) Unwrap() error { return e.err }

func badSpec(reason, format string, args ...any) error {
	return &specError{Reason: reason, err: fmt.Errorf(format, args...)}
}

// sandboxSpec turns a pod's spec into what the sandbox grants its guest;
// out receives stdout and stderr.
func (w *Wasmlet) sandboxSpec(pod *waskv1.Pod, out io.Writer) (sandbox.Spec, error) {
	md, ps := pod.GetMetadata(), pod.GetSpec()
	ns := md.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	s := sandbox.Spec{
		Name:   md.GetName(),
		Args:   ps.GetArgs(),
		Env:    make(map[string]string, len(ps.GetEnv())+3),
		Stdout: out,
		Stderr: out,
		Clock:  ps.GetCapabilities().GetClock(),
		Random: ps.GetCapabilities().GetRandom(),
	}
	for _, e := range ps.GetEnv() {
		s.Env[e.GetName()] = e.GetValue()
	}
	if ps.DownwardEnv == nil || ps.GetDownwardEnv() {
		s.Env[EnvPodName] = md.GetName()
		s.Env[EnvNamespace] = ns
		s.Env[EnvNodeName] = w.cfg.Name
	}

	limits := ps.GetResources().GetLimits()
	if q, ok := limits["memory"]; ok {
		n, err := parseQuantity(q)
		if err != nil || n <= 0 {
			return s, badSpec("InvalidSpec", "spec.resources.limits.memory %q: not a positive quantity", q)
		}
		s.MemoryLimit = uint64(n)
	}
	if t, ok := limits["timeout"]; ok {
		d, err := time.ParseDuration(t)
		if err != nil || d < 0 {
			return s, badSpec("InvalidSpec", "spec.resources.limits.timeout %q: not a duration", t)
		}
		s.Timeout = d
	}
	for i, m := range ps.GetMounts() {
		host := filepath.Clean(m.GetHostPath())
		if !waskv1.HostPathAllowed(w.cfg.AllowedHostPaths, host) {
			return s, badSpec("MountNotAllowed", "spec.mounts[%d].hostPath %q: the node does not allow mounting it", i, m.GetHostPath())
		}
		ro := m.ReadOnly == nil || m.GetReadOnly()
		s.Mounts = append(s.Mounts, sandbox.Mount{HostPath: host, GuestPath: m.GetPath(), ReadOnly: ro})
	}
	s.Outbound = w.outbound(ns, md.GetName(), ps.GetOutbound())
	return s, nil
}

// errNoOutbound is what a guest's outbound call gets on a node without a
// mesh.
var errNoOutbound = errors.New("outbound calls are not available on this node (no mesh proxy)")

// outbound returns the guest's outbound function: only the Services the
// pod lists are reachable.
func (w *Wasmlet) outbound(ns, pod string, allowed []*waskv1.OutboundService) func(context.Context, *http.Request) (*http.Response, error) {
	return func(ctx context.Context, req *http.Request) (*http.Response, error) {
		host := req.URL.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		name, svcNS, _ := strings.Cut(host, ".")
		if svcNS == "" {
			svcNS = ns
		}
		ok := false
		for _, a := range allowed {
			ans := a.GetNamespace()
			if ans == "" {
				ans = ns
			}
			if a.GetService() == name && ans == svcNS {
				ok = true
				break
			}
		}
		if !ok {
			return nil, fmt.Errorf("outbound call to %q: service %s/%s is not in the pod's spec.outbound", req.URL.Host, svcNS, name)
		}
		if w.cfg.Outbound == nil {
			return nil, errNoOutbound
		}
		return w.cfg.Outbound(ctx, ns, pod, req)
	}
}

// parseQuantity parses a Kubernetes quantity ("64Mi", "1G", "500m", "2")
// into whole units (bytes, or cores rounded up).
func parseQuantity(q string) (int64, error) {
	num := strings.TrimRightFunc(q, func(r rune) bool { return r < '0' || r > '9' })
	suffix := q[len(num):]
	if num == "" {
		return 0, fmt.Errorf("quantity %q: no number", q)
	}
	var mult float64
	switch suffix {
	case "":
		mult = 1
	case "m":
		mult = 0.001
	case "k":
		mult = 1e3
	case "M":
		mult = 1e6
	case "G":
		mult = 1e9
	case "T":
		mult = 1e12
	case "Ki":
		mult = 1 << 10
	case "Mi":
		mult = 1 << 20
	case "Gi":
		mult = 1 << 30
	case "Ti":
		mult = 1 << 40
	default:
		return 0, fmt.Errorf("quantity %q: unknown suffix %q", q, suffix)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("quantity %q: %w", q, err)
	}
	v := math.Ceil(f * mult)
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("quantity %q: too large", q)
	}
	return int64(v), nil
}
