package main

import (
	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

func newLogsCmd(e *env) *cobra.Command {
	var namespace string
	var follow, previous bool
	var tail int64
	c := &cobra.Command{
		Use:   "logs POD",
		Short: "Print a pod's log (its guest's stdout and stderr)",
		Long: `Print a pod's log: what its guest wrote to stdout and stderr, as its node keeps it (a bounded
buffer per pod: the oldest output goes first). The apiserver fetches it from the pod's node.`,
		Example: `  wask logs hello
  wask logs -f --tail 20 echo-7d9f
  wask logs --previous crashy`,
		Args: argsRange(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			if tail < -1 {
				return usagef("--tail %d: want a number of lines, or -1 for all", tail)
			}
			cl, err := e.dial()
			if err != nil {
				return err
			}
			req := &waskv1.LogsRequest{Namespace: namespace, Name: args[0], Follow: follow, Previous: previous}
			if tail > 0 {
				req.TailLines = tail
			}
			stream, err := cl.Logs.Logs(c.Context(), connect.NewRequest(req))
			if err != nil {
				return explain(cl, err)
			}
			defer stream.Close()
			for stream.Receive() {
				if _, err := e.stdout.Write(stream.Msg().GetData()); err != nil {
					return err
				}
			}
			if err := stream.Err(); err != nil && c.Context().Err() == nil {
				return explain(cl, err)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&namespace, "namespace", "n", "", `namespace (default "default")`)
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what the pod writes until its instance ends")
	c.Flags().BoolVarP(&previous, "previous", "p", false, "the run before the last restart")
	c.Flags().Int64Var(&tail, "tail", -1, "only the last this many lines (-1: all)")
	return c
}
