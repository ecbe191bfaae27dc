package sandbox

import (
	"context"
	"errors"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wask-dev/wask/wasmlet/sandbox/internal/preempt"
)

// instantiatePreempt provides the check that modules instrumented by
// package preempt call every preempt.DefaultInterval loop headers, and at
// the next header once watchBudget zeroed their countdown. Being a call
// into Go, it is also where Go's scheduler can preempt a spinning guest.
func instantiatePreempt(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(preempt.ImportModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(preemptCheck), nil, nil).Export(preempt.ImportName).
		Instantiate(ctx)
	return err
}

// preemptCheck ends the guest, by the error stopIfDone gives, once it
// should stop.
func preemptCheck(ctx context.Context, mod api.Module, _ []uint64) {
	if err := stopIfDone(ctx, mod); err != nil {
		panic(err) // wazero returns it from the guest's call
	}
}

// stopIfDone closes the instance and returns its exit error, as wazero's
// WithCloseOnContextDone would, if ctx is done or the instance was closed;
// otherwise nil.
func stopIfDone(ctx context.Context, mod api.Module) error {
	var code uint32
	switch err := ctx.Err(); {
	case errors.Is(err, context.DeadlineExceeded):
		code = sys.ExitCodeDeadlineExceeded
	case err != nil, mod.IsClosed():
		code = sys.ExitCodeContextCanceled
	default:
		return nil
	}
	_ = mod.CloseWithExitCode(ctx, code)
	return sys.NewExitError(code)
}

// watchBudget makes an instrumented guest check at its next loop header
// once ctx is done (one whose countdown is far from zero, or that sleeps
// in a host call, would otherwise go on for up to an interval). The
// returned function stops watching.
func watchBudget(ctx context.Context, budget api.MutableGlobal) (stop func() bool) {
	if budget == nil || ctx.Done() == nil {
		return func() bool { return false }
	}
	return context.AfterFunc(ctx, func() { budget.Set(0) })
}
