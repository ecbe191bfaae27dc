package wasmlet

import (
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// LeaseNamespace is the namespace of the nodes' heartbeat Leases.
const LeaseNamespace = "wask-node-lease"

// APICertAnnotation is the Node annotation carrying the SHA-256 (hex) of
// the node API's self-signed certificate, which the apiserver pins when it
// proxies to the node.
const APICertAnnotation = "wask.dev/api-cert-sha256"

// nodeStatus builds the Node's status as this wasmlet sees it.
func (w *Wasmlet) nodeStatus(ready bool, reason, message string, prev *waskv1.NodeStatus) *waskv1.NodeStatus {
	now := timestamppb.New(w.cfg.Now())
	c := w.cfg.Capacity
	capacity := map[string]string{
		"memory": strconv.FormatInt(c.Memory, 10),
		"cpu":    strconv.FormatInt(c.CPUMilli, 10) + "m",
		"pods":   strconv.Itoa(c.Pods),
	}
	addrs := []*waskv1.NodeAddress{{Type: "InternalIP", Address: w.cfg.InternalIP}}
	if h, err := os.Hostname(); err == nil {
		addrs = append(addrs, &waskv1.NodeAddress{Type: "Hostname", Address: h})
	}
	if w.apiAddr != "" {
		addrs = append(addrs, &waskv1.NodeAddress{Type: "API", Address: w.apiAddr})
	}
	if w.cfg.IngressAddr != "" {
		addrs = append(addrs, &waskv1.NodeAddress{Type: "Ingress", Address: w.cfg.IngressAddr})
	}
	if w.cfg.MeshAddr != "" {
		addrs = append(addrs, &waskv1.NodeAddress{Type: "Mesh", Address: w.cfg.MeshAddr})
	}
	status := "False"
	if ready {
		status = "True"
	}
	cond := &waskv1.Condition{Type: "Ready", Status: status, Reason: reason, Message: message, LastTransitionTime: now, LastUpdateTime: now}
	for _, old := range prev.GetConditions() {
		if old.GetType() == "Ready" && old.GetStatus() == status {
			cond.LastTransitionTime = old.GetLastTransitionTime()
		}
	}
	return &waskv1.NodeStatus{
		Capacity:    capacity,
		Allocatable: maps.Clone(capacity),
		Capabilities: &waskv1.NodeCapabilities{
			HostModules: w.rt.HostModules(),
			Modes:       w.rt.Modes(),
			HostPaths:   w.cfg.AllowedHostPaths,
		},
		Addresses:  addrs,
		Conditions: []*waskv1.Condition{cond},
		NodeInfo: &waskv1.NodeInfo{
			Version:        w.cfg.Version,
			RuntimeVersion: runtimeVersion(),
			Os:             runtime.GOOS,
			Arch:           runtime.GOARCH,
		},
	}
}

// runtimeVersion names the WebAssembly runtime from the build's module
// information.
func runtimeVersion() string {
	return "wazero " + wazeroVersion()
}

// registerNode creates the Node or takes over the existing one (a restart),
// adding the configured labels and the API certificate's pin, and writes its
// status with Ready=True.
func (w *Wasmlet) registerNode(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := w.tryRegisterNode(ctx)
		if err == nil || connect.CodeOf(err) != connect.CodeAborted || attempt >= 5 {
			if err != nil {
				return fmt.Errorf("register node %s: %w", w.cfg.Name, err)
			}
			return nil
		}
	}
}

func (w *Wasmlet) tryRegisterNode(ctx context.Context) error {
	node, err := client.Get[*waskv1.Node](ctx, w.c, "", w.cfg.Name)
	switch {
	case connect.CodeOf(err) == connect.CodeNotFound:
		node, err = client.Create(ctx, w.c, &waskv1.Node{
			Metadata: &waskv1.ObjectMeta{Name: w.cfg.Name, Labels: w.nodeLabels(nil), Annotations: w.nodeAnnotations(nil)},
			Spec:     &waskv1.NodeSpec{},
		})
		if err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		labels, annotations := w.nodeLabels(node.GetMetadata().GetLabels()), w.nodeAnnotations(node.GetMetadata().GetAnnotations())
		if !maps.Equal(labels, node.GetMetadata().GetLabels()) || !maps.Equal(annotations, node.GetMetadata().GetAnnotations()) {
			upd := proto.Clone(node).(*waskv1.Node)
			upd.Metadata.Labels, upd.Metadata.Annotations = labels, annotations
			if node, err = client.Update(ctx, w.c, upd); err != nil {
				return err
			}
		}
	}
	return w.writeNodeStatus(ctx, node, true, "WasmletReady", "the wasmlet is running pods")
}

func (w *Wasmlet) nodeLabels(cur map[string]string) map[string]string {
	out := maps.Clone(cur)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, w.cfg.Labels)
	out["wask.dev/hostname"] = w.cfg.Name
	out["wask.dev/os"] = runtime.GOOS
	out["wask.dev/arch"] = runtime.GOARCH
	return out
}

func (w *Wasmlet) nodeAnnotations(cur map[string]string) map[string]string {
	out := maps.Clone(cur)
	if out == nil {
		out = map[string]string{}
	}
	if w.apiCertHash != "" {
		out[APICertAnnotation] = w.apiCertHash
	} else {
		delete(out, APICertAnnotation)
	}
	return out
}

// writeNodeStatus writes the node's status given the current Node.
func (w *Wasmlet) writeNodeStatus(ctx context.Context, node *waskv1.Node, ready bool, reason, message string) error {
	upd := &waskv1.Node{
		Metadata: &waskv1.ObjectMeta{Name: w.cfg.Name},
		Status:   w.nodeStatus(ready, reason, message, node.GetStatus()),
	}
	if _, err := client.UpdateStatus(ctx, w.c, upd); err != nil {
		return fmt.Errorf("write node status: %w", err)
	}
	return nil
}

// setNodeReady rewrites the Node's status with a Ready condition.
func (w *Wasmlet) setNodeReady(ctx context.Context, ready bool, reason, message string) error {
	node, err := client.Get[*waskv1.Node](ctx, w.c, "", w.cfg.Name)
	if err != nil {
		return fmt.Errorf("read node %s: %w", w.cfg.Name, err)
	}
	return w.writeNodeStatus(ctx, node, ready, reason, message)
}

// renewLease keeps the node's Lease renewed every LeaseRenewInterval, and
// the Node's status fresh every NodeStatusInterval, until ctx ends.
func (w *Wasmlet) renewLease(ctx context.Context) {
	lease := time.NewTicker(w.cfg.LeaseRenewInterval)
	defer lease.Stop()
	status := time.NewTicker(w.cfg.NodeStatusInterval)
	defer status.Stop()
	lastRenewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lease.C:
			// A renewal that hangs (packets dropped) must not hold off
			// the fencing check.
			rctx, cancel := context.WithTimeout(ctx, max(w.cfg.LeaseRenewInterval, time.Second))
			err := w.renewLeaseOnce(rctx)
			cancel()
			if err == nil {
				lastRenewed = time.Now()
				if w.fenced.Swap(false) {
					w.log.Info("lease renewed again: starting the pods still bound here")
					for _, o := range w.pods.List() {
						w.enqueue(o)
					}
				}
			} else if ctx.Err() == nil {
				w.log.Warn("renew lease", "err", err)
			}
			if f := w.cfg.FenceAfter; f > 0 && err != nil && time.Since(lastRenewed) > f && !w.fenced.Swap(true) {
				w.log.Warn("lease not renewed: stopping every pod (fencing)", "since", time.Since(lastRenewed).Round(time.Millisecond), "fenceAfter", f)
				w.mu.Lock()
				keys := make([]string, 0, len(w.running))
				for k := range w.running {
					keys = append(keys, k)
				}
				w.mu.Unlock()
				for _, k := range keys {
					w.queue.Add(k)
				}
			}
		case <-status.C:
			if w.draining.Load() {
				continue
			}
			if err := w.setNodeReady(ctx, true, "WasmletReady", "the wasmlet is running pods"); err != nil && ctx.Err() == nil {
				w.log.Warn("heartbeat node status", "err", err)
			}
		}
	}
}

// renewLeaseOnce renews (or creates, or takes back) the node's Lease. It
// writes conditionally on the Lease it last wrote (w.lease, used only by
// renewLease's goroutine), reading it again only after a failure.
func (w *Wasmlet) renewLeaseOnce(ctx context.Context) error {
	now := timestamppb.New(w.cfg.Now())
	secs := int32(w.cfg.LeaseDuration / time.Second)
	if secs < 1 {
		secs = 1
	}
	l, err := w.lease, error(nil)
	if l == nil {
		l, err = client.Get[*waskv1.Lease](ctx, w.c, LeaseNamespace, w.cfg.Name)
	}
	w.lease = nil // until this renewal succeeds
	if connect.CodeOf(err) == connect.CodeNotFound {
		l, err = client.Create(ctx, w.c, &waskv1.Lease{
			Metadata: &waskv1.ObjectMeta{Name: w.cfg.Name, Namespace: LeaseNamespace},
			Spec:     &waskv1.LeaseSpec{HolderIdentity: w.cfg.Name, LeaseDurationSeconds: secs, AcquireTime: now, RenewTime: now},
		})
		if err != nil {
			return fmt.Errorf("create lease %s/%s: %w", LeaseNamespace, w.cfg.Name, err)
		}
		w.lease = l
		return nil
	}
	if err != nil {
		return fmt.Errorf("read lease %s/%s: %w", LeaseNamespace, w.cfg.Name, err)
	}
	l = proto.Clone(l).(*waskv1.Lease)
	s := l.GetSpec()
	if s == nil {
		s = &waskv1.LeaseSpec{}
		l.Spec = s
	}
	if s.HolderIdentity != w.cfg.Name {
		s.HolderIdentity = w.cfg.Name
		s.AcquireTime = now
		s.LeaseTransitions++
	}
	s.LeaseDurationSeconds = secs
	s.RenewTime = now
	l, err = client.Update(ctx, w.c, l)
	if err != nil {
		return fmt.Errorf("renew lease %s/%s: %w", LeaseNamespace, w.cfg.Name, err)
	}
	w.lease = l
	return nil
}

// wazeroVersion is the version of wazero in the build ("unknown" without
// build information); the wasmlet may not import wazero itself.
func wazeroVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
}
