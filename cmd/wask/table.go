package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// table is what `wask get` prints for a list of one kind, like kubectl:
// upper-case headers, columns separated by at least three spaces.
type table struct {
	headers []string
	rows    [][]string
}

func (t *table) write(w io.Writer) error { return t.writeRows(w, true) }

// writeRows writes the table, with its header line if headers.
func (t *table) writeRows(w io.Writer, headers bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	if headers {
		fmt.Fprintln(tw, strings.Join(t.headers, "\t"))
	}
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// column is one column of a kind's table.
type column struct {
	header string
	wide   bool // only with -o wide
	value  func(o *waskv1.Object, now time.Time) string
}

// buildTable lays out objects of one kind. allNamespaces adds a NAMESPACE
// column first.
func buildTable(kind string, objs []*waskv1.Object, allNamespaces, wide bool, now time.Time) *table {
	cols := columnsFor(kind)
	t := &table{}
	if allNamespaces {
		t.headers = append(t.headers, "NAMESPACE")
	}
	for _, c := range cols {
		if c.wide && !wide {
			continue
		}
		t.headers = append(t.headers, c.header)
	}
	for _, o := range objs {
		var row []string
		if allNamespaces {
			row = append(row, o.Metadata().GetNamespace())
		}
		for _, c := range cols {
			if c.wide && !wide {
				continue
			}
			row = append(row, c.value(o, now))
		}
		t.rows = append(t.rows, row)
	}
	return t
}

var (
	nameCol = column{header: "NAME", value: func(o *waskv1.Object, _ time.Time) string { return o.Metadata().GetName() }}
	ageCol  = column{header: "AGE", value: func(o *waskv1.Object, now time.Time) string {
		return age(o.Metadata().GetCreationTimestamp(), now)
	}}
)

func columnsFor(kind string) []column {
	switch kind {
	case "Pod":
		return []column{nameCol,
			{header: "READY", value: func(o *waskv1.Object, _ time.Time) string {
				if conditionTrue(o.GetPod().GetStatus().GetConditions(), "Ready") {
					return "1/1"
				}
				return "0/1"
			}},
			{header: "STATUS", value: func(o *waskv1.Object, _ time.Time) string { return podStatus(o.GetPod()) }},
			{header: "RESTARTS", value: func(o *waskv1.Object, _ time.Time) string {
				return strconv.Itoa(int(o.GetPod().GetStatus().GetRestartCount()))
			}},
			ageCol,
			{header: "NODE", wide: true, value: func(o *waskv1.Object, _ time.Time) string { return orNone(o.GetPod().GetSpec().GetNodeName()) }},
			{header: "MODE", wide: true, value: func(o *waskv1.Object, _ time.Time) string { return o.GetPod().GetSpec().GetMode() }},
			{header: "MODULE", wide: true, value: func(o *waskv1.Object, _ time.Time) string { return shortDigest(o.GetPod().GetSpec().GetModule()) }},
		}
	case "Deployment":
		return []column{nameCol,
			{header: "READY", value: func(o *waskv1.Object, _ time.Time) string {
				d := o.GetDeployment()
				return fmt.Sprintf("%d/%d", d.GetStatus().GetReadyReplicas(), desired(d.GetSpec().Replicas))
			}},
			{header: "UP-TO-DATE", value: func(o *waskv1.Object, _ time.Time) string {
				return strconv.Itoa(int(o.GetDeployment().GetStatus().GetUpdatedReplicas()))
			}},
			{header: "AVAILABLE", value: func(o *waskv1.Object, _ time.Time) string {
				return strconv.Itoa(int(o.GetDeployment().GetStatus().GetAvailableReplicas()))
			}},
			ageCol,
			{header: "MODULE", wide: true, value: func(o *waskv1.Object, _ time.Time) string {
				return shortDigest(o.GetDeployment().GetSpec().GetTemplate().GetSpec().GetModule())
			}},
			{header: "SELECTOR", wide: true, value: func(o *waskv1.Object, _ time.Time) string {
				return labelString(o.GetDeployment().GetSpec().GetSelector().GetMatchLabels())
			}},
		}
	case "ReplicaSet":
		return []column{nameCol,
			{header: "DESIRED", value: func(o *waskv1.Object, _ time.Time) string {
				return strconv.Itoa(int(desired(o.GetReplicaSet().GetSpec().Replicas)))
			}},
			{header: "CURRENT", value: func(o *waskv1.Object, _ time.Time) string {
				return strconv.Itoa(int(o.GetReplicaSet().GetStatus().GetReplicas()))
			}},
			{header: "READY", value: func(o *waskv1.Object, _ time.Time) string {
				return strconv.Itoa(int(o.GetReplicaSet().GetStatus().GetReadyReplicas()))
			}},
			ageCol,
		}
	case "Job":
		return []column{nameCol,
			{header: "COMPLETIONS", value: func(o *waskv1.Object, _ time.Time) string {
				j := o.GetJob()
				return fmt.Sprintf("%d/%d", j.GetStatus().GetSucceeded(), desired(j.GetSpec().Completions))
			}},
			{header: "DURATION", value: func(o *waskv1.Object, now time.Time) string {
				st := o.GetJob().GetStatus()
				if st.GetStartTime() == nil {
					return "<none>"
				}
				end := now
				if st.GetCompletionTime() != nil {
					end = st.GetCompletionTime().AsTime()
				}
				return humanDuration(end.Sub(st.GetStartTime().AsTime()))
			}},
			ageCol,
		}
	case "Service":
		return []column{nameCol,
			{header: "PORTS", value: func(o *waskv1.Object, _ time.Time) string {
				var ports []string
				for _, p := range o.GetService().GetSpec().GetPorts() {
					ports = append(ports, strconv.Itoa(int(p.GetPort())))
				}
				if len(ports) == 0 {
					return "80"
				}
				return strings.Join(ports, ",")
			}},
			{header: "SELECTOR", value: func(o *waskv1.Object, _ time.Time) string {
				return labelString(o.GetService().GetSpec().GetSelector())
			}},
			ageCol,
		}
	case "Endpoints":
		return []column{nameCol,
			{header: "ENDPOINTS", value: func(o *waskv1.Object, _ time.Time) string {
				var eps []string
				for _, a := range o.GetEndpoints().GetAddresses() {
					if a.GetReady() {
						eps = append(eps, a.GetPodName()+"@"+a.GetNodeName())
					}
				}
				return truncateList(eps, 3)
			}},
			ageCol,
		}
	case "Node":
		return []column{nameCol,
			{header: "STATUS", value: func(o *waskv1.Object, _ time.Time) string { return nodeStatus(o.GetNode()) }},
			ageCol,
			{header: "VERSION", value: func(o *waskv1.Object, _ time.Time) string {
				return orNone(o.GetNode().GetStatus().GetNodeInfo().GetVersion())
			}},
			{header: "MEMORY", wide: true, value: func(o *waskv1.Object, _ time.Time) string {
				return orNone(o.GetNode().GetStatus().GetAllocatable()["memory"])
			}},
			{header: "PODS", wide: true, value: func(o *waskv1.Object, _ time.Time) string {
				return orNone(o.GetNode().GetStatus().GetAllocatable()["pods"])
			}},
			{header: "MODES", wide: true, value: func(o *waskv1.Object, _ time.Time) string {
				return orNone(strings.Join(o.GetNode().GetStatus().GetCapabilities().GetModes(), ","))
			}},
		}
	case "Namespace":
		return []column{nameCol,
			{header: "STATUS", value: func(o *waskv1.Object, _ time.Time) string {
				if p := o.GetNamespace().GetStatus().GetPhase(); p != "" {
					return p
				}
				return "Active"
			}},
			ageCol,
		}
	case "Lease":
		return []column{nameCol,
			{header: "HOLDER", value: func(o *waskv1.Object, _ time.Time) string {
				return orNone(o.GetLease().GetSpec().GetHolderIdentity())
			}},
			ageCol,
		}
	case "Module":
		return []column{nameCol,
			{header: "DIGEST", value: func(o *waskv1.Object, _ time.Time) string { return shortDigest(o.GetModule().GetSpec().GetDigest()) }},
			{header: "SIZE", value: func(o *waskv1.Object, _ time.Time) string { return byteSize(o.GetModule().GetStatus().GetSize()) }},
			{header: "MODES", value: func(o *waskv1.Object, _ time.Time) string {
				return orNone(strings.Join(o.GetModule().GetStatus().GetModes(), ","))
			}},
			ageCol,
		}
	case "Event":
		return []column{
			{header: "LAST SEEN", value: func(o *waskv1.Object, now time.Time) string { return age(o.GetEvent().GetLastTimestamp(), now) }},
			{header: "TYPE", value: func(o *waskv1.Object, _ time.Time) string { return o.GetEvent().GetType() }},
			{header: "REASON", value: func(o *waskv1.Object, _ time.Time) string { return o.GetEvent().GetReason() }},
			{header: "OBJECT", value: func(o *waskv1.Object, _ time.Time) string {
				ref := o.GetEvent().GetInvolvedObject()
				return strings.ToLower(ref.GetKind()) + "/" + ref.GetName()
			}},
			{header: "MESSAGE", value: func(o *waskv1.Object, _ time.Time) string { return o.GetEvent().GetMessage() }},
		}
	}
	return []column{nameCol, ageCol}
}

// podStatus is the STATUS column: the reason if there is one (e.g.
// CrashLoopBackOff), Terminating while being deleted, else the phase.
func podStatus(p *waskv1.Pod) string {
	if p.GetMetadata().GetDeletionTimestamp() != nil {
		return "Terminating"
	}
	if r := p.GetStatus().GetReason(); r != "" {
		return r
	}
	if ph := p.GetStatus().GetPhase(); ph != "" {
		return ph
	}
	return "Pending"
}

func nodeStatus(n *waskv1.Node) string {
	s := "NotReady"
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" && c.GetStatus() == "True" {
			s = "Ready"
		}
	}
	if n.GetSpec().GetUnschedulable() {
		s += ",SchedulingDisabled"
	}
	return s
}

func conditionTrue(conds []*waskv1.Condition, typ string) bool {
	for _, c := range conds {
		if c.GetType() == typ {
			return c.GetStatus() == "True"
		}
	}
	return false
}

func desired(replicas *int32) int32 {
	if replicas == nil {
		return 1
	}
	return *replicas
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func labelString(labels map[string]string) string {
	if len(labels) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}

func truncateList(items []string, n int) string {
	if len(items) == 0 {
		return "<none>"
	}
	if len(items) <= n {
		return strings.Join(items, ",")
	}
	return strings.Join(items[:n], ",") + fmt.Sprintf(" + %d more...", len(items)-n)
}

// shortDigest abbreviates a sha256 digest as docker does; names and paths
// are shown as they are.
func shortDigest(s string) string {
	if h, ok := strings.CutPrefix(s, "sha256:"); ok && len(h) > 12 {
		return "sha256:" + h[:12]
	}
	return orNone(s)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMi", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKi", float64(n)/(1<<10))
	}
	return strconv.FormatInt(n, 10)
}

func age(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil {
		return "<unknown>"
	}
	return humanDuration(now.Sub(ts.AsTime()))
}

// humanDuration formats like kubectl's AGE column: 45s, 5m3s, 47m, 5h3m,
// 12h, 3d4h, 15d, 2y30d.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d.Round(time.Second) / time.Second)
	m, h, days := s/60, s/3600, s/86400
	switch {
	case s < 120:
		return fmt.Sprintf("%ds", s)
	case m < 10:
		if s%60 == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s%60)
	case m < 180:
		return fmt.Sprintf("%dm", m)
	case h < 8:
		if m%60 == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m%60)
	case h < 48:
		return fmt.Sprintf("%dh", h)
	case h < 192:
		if h%24 == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, h%24)
	case days < 365*2:
		return fmt.Sprintf("%dd", days)
	case days < 365*8:
		if days%365 == 0 {
			return fmt.Sprintf("%dy", days/365)
		}
		return fmt.Sprintf("%dy%dd", days/365, days%365)
	}
	return fmt.Sprintf("%dy", days/365)
}
