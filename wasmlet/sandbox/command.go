package sandbox

import (
	"context"
	"fmt"
)

// RunCommand runs the module's _start to completion (command mode) under
// the grants of s. err is non-nil only when the guest could not start
// (bad Spec, a mount missing, a module without _start, memory below its
// minimum); how the guest ended, a trap included, is the Exit.
func (r *Runtime) RunCommand(ctx context.Context, m *Module, s Spec) (Exit, error) {
	p, err := r.prepare(m, s)
	if err != nil {
		return Exit{}, err
	}
	if !m.hasExport(CommandExport) {
		return Exit{}, fmt.Errorf("sandbox: %s: module has no %s export (not a WASI command): %w", p.name, CommandExport, ErrNoExport)
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	in, err := r.instantiate(ctx, m, p, nil, nil)
	if err != nil {
		return Exit{}, err
	}
	defer in.close(context.WithoutCancel(ctx))
	_, err = in.call(ctx, CommandExport)
	return classify(err, in.alloc.refused.Load(), ctx), nil
}
