package sandbox

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wask-dev/wask/wasmlet/sandbox/internal/preempt"
)

// instance is one running instance of a module with its memory limit and
// host state.
type instance struct {
	mod   api.Module
	alloc *limitAllocator
	state *hostState
	// reqPtr and reqCap: the request buffer wask_alloc last gave (reactor).
	reqPtr, reqCap uint32
	// budget is the preemption countdown of an instrumented module.
	budget api.MutableGlobal
	// done is the Done channel of the call running in the instance, which
	// ends a sleep early (sleep).
	done <-chan struct{}
}

// ctx returns ctx carrying the instance's host state, for calls into it.
func (in *instance) ctx(ctx context.Context) context.Context {
	return withHostState(ctx, in.state)
}

// instantiate starts an instance of m under p; stdin and stdout override
// the Spec's (CGI). Its start function (_start or _initialize) is not run:
// call start.
func (r *Runtime) instantiate(ctx context.Context, m *Module, p *prepared, stdin io.Reader, stdout io.Writer) (*instance, error) {
	in := &instance{
		alloc: &limitAllocator{limit: p.limit},
		state: &hostState{outbound: p.spec.Outbound, stderr: p.spec.Stderr},
	}
	c := p.config
	if stdin != nil {
		c = c.WithStdin(stdin)
	}
	if stdout != nil {
		c = c.WithStdout(stdout)
	}
	if p.spec.Clock {
		c = c.WithNanosleep(in.sleep)
	}
	ctx = experimental.WithMemoryAllocator(in.ctx(ctx), in.alloc)
	mod, err := r.rt.InstantiateModule(ctx, m.cm, c)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %s: instantiating: %w", p.name, err)
	}
	in.mod = mod
	in.budget, _ = mod.ExportedGlobal(preempt.BudgetExport).(api.MutableGlobal)
	if in.alloc.overLimit {
		in.close(ctx)
		return nil, fmt.Errorf("sandbox: %s: the module's initial memory is over Spec.MemoryLimit (%d bytes): %w", p.name, p.limit, ErrMemoryLimit)
	}
	return in, nil
}

// call calls an exported function of the instance; the error is what
// classify takes.
func (in *instance) call(ctx context.Context, fn string, params ...uint64) ([]uint64, error) {
	f := in.mod.ExportedFunction(fn)
	if f == nil {
		return nil, fmt.Errorf("%s: %w", fn, ErrNoExport)
	}
	if in.budget != nil {
		// As wazero's WithCloseOnContextDone does: a done context ends
		// the instance before it runs.
		if ctx.Err() != nil {
			return nil, stopIfDone(ctx, in.mod)
		}
		defer watchBudget(ctx, in.budget)()
	}
	in.done = ctx.Done()
	return f.Call(in.ctx(ctx), params...)
}

// sleep is the guest's sleep when Spec.Clock grants real sleeping (WASI
// poll_oneoff on a clock): it ends early when the call's context is done,
// so a sleeping guest stops at its deadline, or when its pod is deleted,
// rather than when it wakes. It runs on the call's goroutine.
func (in *instance) sleep(ns int64) {
	if ns <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-in.done:
	}
}

func (in *instance) close(ctx context.Context) {
	if in.mod != nil {
		_ = in.mod.Close(ctx)
	}
}
