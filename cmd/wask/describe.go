package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/manifest"
)

func newDescribeCmd(e *env) *cobra.Command {
	var namespace string
	c := &cobra.Command{
		Use:     "describe KIND NAME",
		Short:   "Show an object in detail, with its events",
		Example: "  wask describe pod echo-7d9f-abcde",
		Args:    argsRange(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			info, names, err := parseKindArgs(args)
			if err != nil {
				return err
			}
			if len(names) != 1 {
				return usagef("describe takes one KIND and one NAME")
			}
			cl, err := e.dial()
			if err != nil {
				return err
			}
			ns := namespaceFor(info, namespace, false)
			ctx := c.Context()
			resp, err := cl.Objects.Get(ctx, connect.NewRequest(&waskv1.GetRequest{Kind: info.Kind, Namespace: ns, Name: names[0]}))
			if err != nil {
				return explain(cl, err)
			}
			events, err := objectEvents(ctx, cl, info, resp.Msg.GetObject())
			if err != nil {
				return explain(cl, err)
			}
			return describe(e.stdout, resp.Msg.GetObject(), events, e.now())
		},
	}
	addNamespaceFlags(c, &namespace, nil)
	return c
}

// objectEvents lists the Events about obj, oldest first.
func objectEvents(ctx context.Context, cl *client.Client, info waskv1.KindInfo, obj *waskv1.Object) ([]*waskv1.Event, error) {
	md := obj.Metadata()
	ns := md.GetNamespace()
	if ns == "" {
		ns = "default" // events about cluster-scoped objects live there
	}
	events, _, err := client.List[*waskv1.Event](ctx, cl, client.ListOptions{
		Namespace:     ns,
		FieldSelector: "involvedObject.kind=" + info.Kind + ",involvedObject.name=" + md.GetName(),
	})
	sort.SliceStable(events, func(i, j int) bool {
		return events[i].GetLastTimestamp().AsTime().Before(events[j].GetLastTimestamp().AsTime())
	})
	return events, err
}

// describe writes obj as kubectl describe does: a header of name,
// namespace, labels, annotations and creation time; kind-specific lines;
// spec and status as YAML; conditions; events.
func describe(w io.Writer, obj *waskv1.Object, events []*waskv1.Event, now time.Time) error {
	md := obj.Metadata()
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	field := func(name, value string) { fmt.Fprintf(tw, "%s:\t%s\n", name, value) }
	info, _ := obj.Info()
	field("Name", md.GetName())
	if info.Namespaced {
		field("Namespace", md.GetNamespace())
	}
	field("Kind", info.Kind)
	field("Labels", labelLines(md.GetLabels()))
	field("Annotations", labelLines(md.GetAnnotations()))
	if ts := md.GetCreationTimestamp(); ts != nil {
		field("Created", ts.AsTime().UTC().Format(time.RFC1123)+" ("+age(ts, now)+" ago)")
	}
	if ts := md.GetDeletionTimestamp(); ts != nil {
		field("Deleting since", ts.AsTime().UTC().Format(time.RFC1123))
	}
	if len(md.GetFinalizers()) > 0 {
		field("Finalizers", strings.Join(md.GetFinalizers(), ", "))
	}
	for _, ref := range md.GetOwnerReferences() {
		field("Controlled By", ref.GetKind()+"/"+ref.GetName())
	}
	if p := obj.GetPod(); p != nil {
		field("Node", orNone(p.GetSpec().GetNodeName()))
		field("Status", podStatus(p))
		field("Module", orNone(p.GetSpec().GetModule()))
		field("Mode", p.GetSpec().GetMode())
		field("Restarts", fmt.Sprint(p.GetStatus().GetRestartCount()))
		if lt := p.GetStatus().GetLastTermination(); lt != nil {
			field("Last Termination", fmt.Sprintf("%s (exit code %d)", lt.GetReason(), lt.GetExitCode()))
		}
		if m := p.GetStatus().GetMessage(); m != "" {
			field("Message", m)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, part := range []string{"spec", "status"} {
		if err := writeSection(w, obj.Unwrap(), part); err != nil {
			return err
		}
	}
	writeConditions(w, obj.Unwrap())
	fmt.Fprintln(w, "Events:")
	if len(events) == 0 {
		fmt.Fprintln(w, "  <none>")
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  Type\tReason\tAge\tFrom\tMessage")
	fmt.Fprintln(tw, "  ----\t------\t----\t----\t-------")
	for _, ev := range events {
		a := age(ev.GetLastTimestamp(), now)
		if ev.GetCount() > 1 {
			a += fmt.Sprintf(" (x%d over %s)", ev.GetCount(), age(ev.GetFirstTimestamp(), now))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", ev.GetType(), ev.GetReason(), a, orNone(ev.GetSource().GetComponent()), ev.GetMessage())
	}
	return tw.Flush()
}

func labelLines(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString("\n\t")
		}
		b.WriteString(k + "=" + m[k])
	}
	return b.String()
}

// writeSection writes a message's spec or status as indented YAML.
func writeSection(w io.Writer, m proto.Message, name string) error {
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil || !r.Has(fd) {
		return nil
	}
	sub := r.Get(fd).Message().Interface()
	if name == "status" {
		sub = proto.Clone(sub)
		if c := sub.ProtoReflect().Descriptor().Fields().ByName("conditions"); c != nil {
			sub.ProtoReflect().Clear(c) // shown as a table below
		}
		if proto.Size(sub) == 0 {
			return nil
		}
	}
	y, err := manifest.EncodeYAMLMessage(sub)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s:\n", strings.ToUpper(name[:1])+name[1:])
	for _, line := range strings.Split(strings.TrimRight(string(y), "\n"), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
	return nil
}

func writeConditions(w io.Writer, m proto.Message) {
	r := m.ProtoReflect()
	st := r.Descriptor().Fields().ByName("status")
	if st == nil || !r.Has(st) {
		return
	}
	conds, ok := r.Get(st).Message().Interface().(interface{ GetConditions() []*waskv1.Condition })
	if !ok || len(conds.GetConditions()) == 0 {
		return
	}
	fmt.Fprintln(w, "Conditions:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  Type\tStatus\tReason\tMessage")
	for _, c := range conds.GetConditions() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.GetType(), c.GetStatus(), c.GetReason(), c.GetMessage())
	}
	tw.Flush()
}
