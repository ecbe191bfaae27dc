package main

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

func newScaleCmd(e *env) *cobra.Command {
	var namespace string
	replicas := -1
	c := &cobra.Command{
		Use:   "scale (deployment|replicaset)/NAME --replicas N",
		Short: "Set the number of replicas of a Deployment or ReplicaSet",
		Example: `  wask scale deployment/echo --replicas 5
  wask scale rs web-7f9c --replicas 0`,
		Args: argsRange(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			info, names, err := parseKindArgs(args)
			if err != nil {
				return err
			}
			if len(names) != 1 {
				return usagef("name one object: KIND/NAME or KIND NAME")
			}
			if replicas < 0 {
				return usagef("--replicas: required, at least 0")
			}
			cl, err := e.dial()
			if err != nil {
				return err
			}
			ns := namespaceFor(info, namespace, false)
			switch info.Kind {
			case "Deployment":
				err = updateRetry(c.Context(), cl, ns, names[0], func(d *waskv1.Deployment) { d.Spec.Replicas = proto.Int32(int32(replicas)) })
			case "ReplicaSet":
				err = updateRetry(c.Context(), cl, ns, names[0], func(rs *waskv1.ReplicaSet) { rs.Spec.Replicas = proto.Int32(int32(replicas)) })
			default:
				return usagef("cannot scale a %s: only deployments and replicasets", info.Kind)
			}
			if err != nil {
				return explain(cl, err)
			}
			fmt.Fprintf(e.stdout, "%s/%s scaled to %d\n", info.Plural, names[0], replicas)
			return nil
		},
	}
	c.Flags().IntVar(&replicas, "replicas", -1, "the new number of replicas")
	addNamespaceFlags(c, &namespace, nil)
	return c
}

// updateRetry reads an object, changes it and writes it back, again if it
// changed meanwhile.
func updateRetry[T proto.Message](ctx context.Context, cl *client.Client, ns, name string, change func(T)) error {
	for attempt := 0; ; attempt++ {
		o, err := client.Get[T](ctx, cl, ns, name)
		if err != nil {
			return err
		}
		change(o)
		_, err = client.Update(ctx, cl, o)
		if connect.CodeOf(err) != connect.CodeAborted || attempt == 10 {
			return err
		}
	}
}
