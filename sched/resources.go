package sched

import (
	"fmt"
	"math"
	"strconv"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// Resources are amounts the scheduler accounts for: memory in bytes, CPU
// in thousandths of a core, and a pod count.
type Resources struct {
	Memory   int64
	MilliCPU int64
	Pods     int64
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{Memory: r.Memory + o.Memory, MilliCPU: r.MilliCPU + o.MilliCPU, Pods: r.Pods + o.Pods}
}

// Sub returns r - o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{Memory: r.Memory - o.Memory, MilliCPU: r.MilliCPU - o.MilliCPU, Pods: r.Pods - o.Pods}
}

// Fits reports whether r is within limit in every resource.
func (r Resources) Fits(limit Resources) bool {
	return r.Memory <= limit.Memory && r.MilliCPU <= limit.MilliCPU && r.Pods <= limit.Pods
}

// podRequests is what a pod reserves: each request, else its limit, else 0
// (PodSpec.resources), and one pod.
func podRequests(p *waskv1.Pod) (Resources, error) {
	r := p.GetSpec().GetResources()
	get := func(key string, scale int64) (int64, error) {
		v, ok := r.GetRequests()[key]
		field := "requests"
		if !ok {
			v, ok = r.GetLimits()[key]
			field = "limits"
		}
		if !ok {
			return 0, nil
		}
		n, err := scaledQuantity(v, scale)
		if err != nil {
			return 0, fmt.Errorf("spec.resources.%s[%s]: %w", field, key, err)
		}
		return n, nil
	}
	mem, err := get("memory", 1)
	if err != nil {
		return Resources{}, err
	}
	cpu, err := get("cpu", 1000)
	if err != nil {
		return Resources{}, err
	}
	return Resources{Memory: mem, MilliCPU: cpu, Pods: 1}, nil
}

// nodeAllocatable is what a node offers pods: status.allocatable, falling
// back per key to status.capacity. A node that states no memory or cpu has
// none; one that states no pod count has no pod-count limit.
func nodeAllocatable(n *waskv1.Node) (Resources, error) {
	st := n.GetStatus()
	get := func(key string, scale, missing int64) (int64, error) {
		v, ok := st.GetAllocatable()[key]
		field := "allocatable"
		if !ok {
			v, ok = st.GetCapacity()[key]
			field = "capacity"
		}
		if !ok {
			return missing, nil
		}
		var q int64
		var err error
		if key == "pods" {
			q, err = strconv.ParseInt(v, 10, 64)
		} else {
			q, err = scaledQuantity(v, scale)
		}
		if err != nil {
			return 0, fmt.Errorf("status.%s[%s]: %w", field, key, err)
		}
		return q, nil
	}
	var a Resources
	var err error
	if a.Memory, err = get("memory", 1, 0); err != nil {
		return a, err
	}
	if a.MilliCPU, err = get("cpu", 1000, 0); err != nil {
		return a, err
	}
	if a.Pods, err = get("pods", 1, math.MaxInt64); err != nil {
		return a, err
	}
	return a, nil
}
