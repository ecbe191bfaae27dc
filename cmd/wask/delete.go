package main

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

func newDeleteCmd(e *env) *cobra.Command {
	var files []string
	var namespace string
	var ignoreNotFound bool
	c := &cobra.Command{
		Use:   "delete (KIND NAME... | -f FILE)",
		Short: "Delete objects by name or by manifest",
		Example: `  wask delete pod hello
  wask delete -f deploy.yaml`,
		RunE: func(c *cobra.Command, args []string) error {
			type target struct {
				info      waskv1.KindInfo
				namespace string
				name      string
			}
			var targets []target
			switch {
			case len(files) > 0 && len(args) > 0:
				return usagef("give either KIND NAME... or -f, not both")
			case len(files) > 0:
				docs, err := e.readManifests(files)
				if err != nil {
					return err
				}
				for _, d := range docs {
					info, _ := d.obj.Info()
					ns := d.obj.Metadata().GetNamespace()
					if ns == "" {
						ns = namespaceFor(info, namespace, false)
					}
					targets = append(targets, target{info, ns, d.obj.Metadata().GetName()})
				}
			case len(args) > 0:
				info, names, err := parseKindArgs(args)
				if err != nil {
					return err
				}
				if len(names) == 0 {
					return usagef("delete %s needs at least one name", info.Plural)
				}
				for _, n := range names {
					targets = append(targets, target{info, namespaceFor(info, namespace, false), n})
				}
			default:
				return usagef("delete needs KIND NAME... or -f FILE")
			}
			cl, err := e.dial()
			if err != nil {
				return err
			}
			for _, t := range targets {
				err := e.deleteOne(c.Context(), cl, t.info, t.namespace, t.name)
				if connect.CodeOf(err) == connect.CodeNotFound && ignoreNotFound {
					continue
				}
				if err != nil {
					return explain(cl, err)
				}
			}
			return nil
		},
	}
	c.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file, directory or - whose objects to delete")
	c.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "treat a missing object as deleted")
	addNamespaceFlags(c, &namespace, nil)
	return c
}

func (e *env) deleteOne(ctx context.Context, cl *client.Client, info waskv1.KindInfo, ns, name string) error {
	resp, err := cl.Objects.Delete(ctx, connect.NewRequest(&waskv1.DeleteRequest{Kind: info.Kind, Namespace: ns, Name: name}))
	if err != nil {
		return err
	}
	verb := "deleted"
	if resp.Msg.GetObject().Metadata().GetDeletionTimestamp() != nil {
		verb = "marked for deletion (waiting for finalizers)"
	}
	fmt.Fprintf(e.stdout, "%s %q %s\n", strings.ToLower(info.Kind), name, verb)
	return nil
}
