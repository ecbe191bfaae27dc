package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
	"github.com/wask-dev/wask/ctrl/deployment"
)

func newRolloutCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "rollout",
		Short: "Follow, list and undo the rollouts of a Deployment",
	}
	c.AddCommand(newRolloutStatusCmd(e), newRolloutHistoryCmd(e), newRolloutUndoCmd(e))
	return c
}

// deploymentArg reads "deployment/NAME" or "deployment NAME".
func deploymentArg(args []string) (string, error) {
	info, names, err := parseKindArgs(args)
	if err != nil {
		return "", err
	}
	if info.Kind != "Deployment" || len(names) != 1 {
		return "", usagef("name one deployment: deployment/NAME")
	}
	return names[0], nil
}

func newRolloutStatusCmd(e *env) *cobra.Command {
	var timeout time.Duration
	c := e.deploymentCmd("status deployment/NAME", "Wait until a Deployment's rollout finishes (exit 1 if it stalls past its progress deadline)",
		func(ctx context.Context, cl *client.Client, ns, name string) error {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return e.rolloutStatus(ctx, cl, ns, name)
		})
	c.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	return c
}

// deploymentCmd is a rollout subcommand on one deployment: it parses
// deployment/NAME and -n, dials, and calls run.
func (e *env) deploymentCmd(use, short string, run func(ctx context.Context, cl *client.Client, ns, name string) error) *cobra.Command {
	var namespace string
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  argsRange(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			name, err := deploymentArg(args)
			if err != nil {
				return err
			}
			cl, err := e.dial()
			if err != nil {
				return err
			}
			return explain(cl, run(c.Context(), cl, namespaceFor(waskv1.KindInfo{Namespaced: true}, namespace, false), name))
		},
	}
	addNamespaceFlags(c, &namespace, nil)
	return c
}

// rolloutStatus prints each new state of the rollout until it is done.
func (e *env) rolloutStatus(ctx context.Context, cl *client.Client, ns, name string) error {
	last := ""
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		d, err := client.Get[*waskv1.Deployment](ctx, cl, ns, name)
		if err != nil {
			return err
		}
		msg, done, err := RolloutState(d)
		if msg != last {
			fmt.Fprintln(e.stdout, msg)
			last = msg
		}
		if done || err != nil {
			return err
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("deployment %q: rollout not finished: %w", name, ctx.Err())
		}
	}
}

// RolloutState describes a Deployment's rollout as kubectl does, and
// whether it is done; a rollout past its progress deadline is an error.
func RolloutState(d *waskv1.Deployment) (msg string, done bool, err error) {
	name := d.GetMetadata().GetName()
	st := d.GetStatus()
	want := deployment.Replicas(d)
	if st.GetObservedGeneration() < d.GetMetadata().GetGeneration() {
		return "Waiting for deployment spec update to be observed...", false, nil
	}
	if c := ctrl.Condition(st.GetConditions(), "Progressing"); c.GetReason() == "ProgressDeadlineExceeded" {
		return fmt.Sprintf("deployment %q exceeded its progress deadline", name), false, errors.New(c.GetMessage())
	}
	switch {
	case st.GetUpdatedReplicas() < want:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...", name, st.GetUpdatedReplicas(), want), false, nil
	case st.GetReplicas() > st.GetUpdatedReplicas():
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...", name, st.GetReplicas()-st.GetUpdatedReplicas()), false, nil
	case st.GetAvailableReplicas() < st.GetUpdatedReplicas():
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...", name, st.GetAvailableReplicas(), st.GetUpdatedReplicas()), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out", name), true, nil
}

// history returns a Deployment's ReplicaSets by revision, oldest first.
func history(ctx context.Context, cl *client.Client, d *waskv1.Deployment) ([]*waskv1.ReplicaSet, error) {
	rss, _, err := client.List[*waskv1.ReplicaSet](ctx, cl, client.ListOptions{Namespace: d.GetMetadata().GetNamespace()})
	if err != nil {
		return nil, err
	}
	var out []*waskv1.ReplicaSet
	for _, rs := range rss {
		if ctrl.IsControlledBy(rs.GetMetadata(), d.GetMetadata().GetUid()) {
			out = append(out, rs)
		}
	}
	sort.Slice(out, func(i, j int) bool { return deployment.Revision(out[i]) < deployment.Revision(out[j]) })
	return out, nil
}

func newRolloutHistoryCmd(e *env) *cobra.Command {
	return e.deploymentCmd("history deployment/NAME", "List a Deployment's revisions",
		func(ctx context.Context, cl *client.Client, ns, name string) error {
			d, err := client.Get[*waskv1.Deployment](ctx, cl, ns, name)
			if err != nil {
				return err
			}
			rss, err := history(ctx, cl, d)
			if err != nil {
				return err
			}
			t := &table{headers: []string{"REVISION", "REPLICASET", "REPLICAS", "MODULE", "CURRENT", "AGE"}}
			now := e.now()
			for _, rs := range rss {
				cur := ""
				if deployment.SameTemplate(rs.GetSpec().GetTemplate(), d.GetSpec().GetTemplate()) {
					cur = "*"
				}
				t.rows = append(t.rows, []string{
					strconv.FormatInt(deployment.Revision(rs), 10), rs.GetMetadata().GetName(),
					strconv.Itoa(int(rs.GetSpec().GetReplicas())), shortDigest(rs.GetSpec().GetTemplate().GetSpec().GetModule()),
					cur, age(rs.GetMetadata().GetCreationTimestamp(), now),
				})
			}
			return t.write(e.stdout)
		})
}

func newRolloutUndoCmd(e *env) *cobra.Command {
	var toRevision int64
	c := e.deploymentCmd("undo deployment/NAME [--to-revision N]", "Roll a Deployment back to its previous (or a given) revision",
		func(ctx context.Context, cl *client.Client, ns, name string) error {
			rev, err := undo(ctx, cl, ns, name, toRevision)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "deployment.wask.dev/%s rolled back to revision %d\n", name, rev)
			return nil
		})
	c.Flags().Int64Var(&toRevision, "to-revision", 0, "the revision to go back to (default: the one before the current)")
	return c
}

// undo puts the template of an earlier revision back into the Deployment
// and returns that revision.
func undo(ctx context.Context, cl *client.Client, ns, name string, to int64) (int64, error) {
	d, err := client.Get[*waskv1.Deployment](ctx, cl, ns, name)
	if err != nil {
		return 0, err
	}
	rss, err := history(ctx, cl, d)
	if err != nil {
		return 0, err
	}
	var current int64
	for _, rs := range rss {
		if deployment.SameTemplate(rs.GetSpec().GetTemplate(), d.GetSpec().GetTemplate()) {
			current = deployment.Revision(rs)
		}
	}
	var target *waskv1.ReplicaSet
	for _, rs := range rss {
		if r := deployment.Revision(rs); (to == 0 && r < current) || (to != 0 && r == to) {
			target = rs
		}
	}
	switch {
	case target == nil && to != 0:
		return 0, fmt.Errorf("deployment %q has no revision %d (see `wask rollout history deployment/%s`)", name, to, name)
	case target == nil:
		return 0, fmt.Errorf("deployment %q has no earlier revision to roll back to", name)
	}
	err = updateRetry(ctx, cl, ns, name, func(d *waskv1.Deployment) {
		d.Spec.Template = deployment.StripHash(target.GetSpec().GetTemplate())
	})
	return deployment.Revision(target), err
}
