package manager

import (
	"github.com/wask-dev/wask/ctrl"
	"github.com/wask-dev/wask/ctrl/deployment"
	"github.com/wask-dev/wask/ctrl/endpoints"
	"github.com/wask-dev/wask/ctrl/gc"
	"github.com/wask-dev/wask/ctrl/job"
	"github.com/wask-dev/wask/ctrl/namespace"
	"github.com/wask-dev/wask/ctrl/nodelifecycle"
	"github.com/wask-dev/wask/ctrl/replicaset"
)

// Options tune the built-in controllers.
type Options struct {
	ReplicaSet    replicaset.Options
	Deployment    deployment.Options
	GC            gc.Options
	Namespace     namespace.Options
	Endpoints     endpoints.Options
	NodeLifecycle nodelifecycle.Options
	Job           job.Options
}

// Defaults returns every built-in controller.
func Defaults(o Options) []Controller {
	return []Controller{
		{Name: replicaset.Name, New: func(env *ctrl.Env) ctrl.Runnable { return replicaset.New(env, o.ReplicaSet) }},
		{Name: deployment.Name, New: func(env *ctrl.Env) ctrl.Runnable { return deployment.New(env, o.Deployment) }},
		{Name: gc.Name, New: func(env *ctrl.Env) ctrl.Runnable { return gc.New(env, o.GC) }},
		{Name: endpoints.Name, New: func(env *ctrl.Env) ctrl.Runnable { return endpoints.New(env, o.Endpoints) }},
		{Name: nodelifecycle.Name, New: func(env *ctrl.Env) ctrl.Runnable { return nodelifecycle.New(env, o.NodeLifecycle) }},
		{Name: job.Name, New: func(env *ctrl.Env) ctrl.Runnable { return job.New(env, o.Job) }},
		{Name: namespace.Name, New: func(env *ctrl.Env) ctrl.Runnable { return namespace.New(env, o.Namespace) }},
	}
}
