package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/manifest"
)

type getOptions struct {
	namespace     string
	allNamespaces bool
	selector      string
	fieldSelector string
	output        string
	watch         bool
}

func newGetCmd(e *env) *cobra.Command {
	var o getOptions
	c := &cobra.Command{
		Use:   "get KIND [NAME...]",
		Short: "Show objects",
		Example: `  wask get pods
  wask get deploy echo -o yaml
  wask get pods -A -l app=echo -o wide
  wask get pods -w`,
		Args: argsRange(1, 1<<20),
		RunE: func(c *cobra.Command, args []string) error {
			info, names, err := parseKindArgs(args)
			if err != nil {
				return err
			}
			switch o.output {
			case "", "wide", "yaml", "json", "name":
			default:
				return usagef("--output %q: want one of yaml, json, wide, name", o.output)
			}
			cl, err := e.dial()
			if err != nil {
				return err
			}
			return explain(cl, e.get(c.Context(), cl, info, names, o))
		},
	}
	addNamespaceFlags(c, &o.namespace, &o.allNamespaces)
	c.Flags().StringVarP(&o.selector, "selector", "l", "", "label selector, e.g. app=echo,tier!=db")
	c.Flags().StringVar(&o.fieldSelector, "field-selector", "", "field selector, e.g. spec.nodeName=node-1")
	c.Flags().StringVarP(&o.output, "output", "o", "", "output format: yaml, json, wide or name")
	c.Flags().BoolVarP(&o.watch, "watch", "w", false, "after listing, watch for changes")
	return c
}

func addNamespaceFlags(c *cobra.Command, ns *string, all *bool) {
	c.Flags().StringVarP(ns, "namespace", "n", "", `namespace (default "default")`)
	if all != nil {
		c.Flags().BoolVarP(all, "all-namespaces", "A", false, "all namespaces")
	}
}

// parseKindArgs reads "KIND [NAME...]" or "KIND/NAME".
func parseKindArgs(args []string) (waskv1.KindInfo, []string, error) {
	kind, name, hasName := strings.Cut(args[0], "/")
	info, ok := waskv1.LookupKind(kind)
	if !ok {
		return waskv1.KindInfo{}, nil, usagef("unknown kind %q; known kinds: %s", kind, kindNames())
	}
	names := args[1:]
	if hasName {
		names = append([]string{name}, names...)
	}
	return info, names, nil
}

func kindNames() string {
	var names []string
	for _, k := range waskv1.Kinds() {
		names = append(names, k.Plural)
	}
	return strings.Join(names, ", ")
}

func namespaceFor(info waskv1.KindInfo, ns string, all bool) string {
	switch {
	case !info.Namespaced || all:
		return ""
	case ns == "":
		return "default"
	}
	return ns
}

func (e *env) get(ctx context.Context, cl *client.Client, info waskv1.KindInfo, names []string, o getOptions) error {
	ns := namespaceFor(info, o.namespace, o.allNamespaces)
	var objs []*waskv1.Object
	var rev string
	if len(names) > 0 {
		for _, name := range names {
			resp, err := cl.Objects.Get(ctx, connect.NewRequest(&waskv1.GetRequest{Kind: info.Kind, Namespace: ns, Name: name}))
			if err != nil {
				return err
			}
			objs = append(objs, resp.Msg.GetObject())
			rev = maxRevision(rev, resp.Msg.GetObject().Metadata().GetRevision())
		}
	} else {
		items, r, err := listAll(ctx, cl, &waskv1.ListRequest{Kind: info.Kind, Namespace: ns, LabelSelector: o.selector, FieldSelector: o.fieldSelector})
		if err != nil {
			return err
		}
		objs, rev = items, r
		sort.SliceStable(objs, func(i, j int) bool { return client.Key(objs[i]) < client.Key(objs[j]) })
	}
	allNS := o.allNamespaces && info.Namespaced
	if err := e.printObjects(info, objs, len(names) == 0 || len(names) > 1, allNS, o.output, true); err != nil {
		return err
	}
	if len(objs) == 0 && len(names) == 0 && (o.output == "" || o.output == "wide") {
		if ns == "" {
			fmt.Fprintf(e.stderr, "No %s found.\n", info.Plural)
		} else {
			fmt.Fprintf(e.stderr, "No %s found in %s namespace.\n", info.Plural, ns)
		}
	}
	if !o.watch {
		return nil
	}
	return e.watch(ctx, cl, info, ns, names, rev, o, allNS)
}

func listAll(ctx context.Context, cl *client.Client, req *waskv1.ListRequest) ([]*waskv1.Object, string, error) {
	var items []*waskv1.Object
	req.Limit = 500
	for {
		resp, err := cl.Objects.List(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, "", err
		}
		items = append(items, resp.Msg.GetItems()...)
		if resp.Msg.GetContinue() == "" {
			return items, resp.Msg.GetRevision(), nil
		}
		req.Continue = resp.Msg.GetContinue()
	}
}

// watch prints each change after rev until the context ends: rows without
// headers for tables, documents for yaml/json, names for -o name.
func (e *env) watch(ctx context.Context, cl *client.Client, info waskv1.KindInfo, ns string, names []string, rev string, o getOptions, allNS bool) error {
	fieldSel := o.fieldSelector
	if len(names) == 1 {
		fieldSel = joinSelector(fieldSel, "metadata.name="+names[0])
	}
	stream, err := cl.Objects.Watch(ctx, connect.NewRequest(&waskv1.WatchRequest{
		Kind: info.Kind, Namespace: ns, LabelSelector: o.selector, FieldSelector: fieldSel, Revision: rev,
	}))
	if err != nil {
		return err
	}
	defer stream.Close()
	for stream.Receive() {
		ev := stream.Msg()
		if ev.GetType() == "BOOKMARK" {
			continue
		}
		if err := e.printObjects(info, []*waskv1.Object{ev.GetObject()}, false, allNS, o.output, false); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil // interrupted: a normal end of -w
	}
	return stream.Err()
}

func joinSelector(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

// printObjects prints in the chosen format. list says whether YAML/JSON
// output is a List; headers whether a table starts with its header line.
func (e *env) printObjects(info waskv1.KindInfo, objs []*waskv1.Object, list, allNS bool, output string, headers bool) error {
	switch output {
	case "yaml":
		b, err := manifest.EncodeYAML(objs, list)
		if err != nil {
			return err
		}
		if !headers {
			e.stdout.Write([]byte("---\n"))
		}
		_, err = e.stdout.Write(b)
		return err
	case "json":
		b, err := manifest.EncodeJSON(objs, list)
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(b)
		return err
	case "name":
		for _, o := range objs {
			fmt.Fprintf(e.stdout, "%s/%s\n", strings.ToLower(info.Kind), o.Metadata().GetName())
		}
		return nil
	}
	if len(objs) == 0 {
		return nil
	}
	return buildTable(info.Kind, objs, allNS, output == "wide", e.now()).writeRows(e.stdout, headers)
}

func maxRevision(a, b string) string {
	if len(a) != len(b) {
		if len(a) > len(b) {
			return a
		}
		return b
	}
	return max(a, b)
}
