package sandbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/sys"
)

// Sentinel errors, for errors.Is.
var (
	// ErrMemoryLimit: the module cannot start within its memory limit, or
	// an instance was refused memory.
	ErrMemoryLimit = errors.New("memory limit exceeded")
	// ErrDeadline: a run or request exceeded Spec.Timeout.
	ErrDeadline = errors.New("deadline exceeded")
	// ErrClosed: the Handler (or Runtime) is closed.
	ErrClosed = errors.New("sandbox closed")
	// ErrNoOutbound is what a guest's outbound call gets when the Spec
	// grants none.
	ErrNoOutbound = errors.New("outbound HTTP is not granted to this guest (no Outbound in its spec)")
	// ErrNoExport: the module does not export the function asked for.
	ErrNoExport = errors.New("no such exported function")
)

// Exit reasons, in the kubelet's vocabulary.
const (
	ReasonCompleted        = "Completed"
	ReasonError            = "Error"
	ReasonOOMKilled        = "OOMKilled"
	ReasonDeadlineExceeded = "DeadlineExceeded"
	ReasonCanceled         = "Canceled"
)

// Exit codes given when the guest did not choose one.
const (
	// ExitCodeTrap is the code of a guest that trapped (e.g. unreachable).
	ExitCodeTrap = 1
	// ExitCodeKilled is the code of a guest stopped by its deadline, its
	// cancellation or its memory limit, as a SIGKILLed process (128+9).
	ExitCodeKilled = 137
)

// Exit is how a run ended.
type Exit struct {
	Code    uint32
	Reason  string // one of the Reason constants
	Message string
	// Trapped: the guest trapped (Reason Error, or OOMKilled when the trap
	// followed a refused growth) rather than exiting.
	Trapped bool
}

// Err is nil for a Completed exit and otherwise an error that matches
// ErrMemoryLimit or ErrDeadline where they apply.
func (e Exit) Err() error {
	switch e.Reason {
	case ReasonCompleted:
		return nil
	case ReasonOOMKilled:
		return fmt.Errorf("%s: %w", e.Message, ErrMemoryLimit)
	case ReasonDeadlineExceeded:
		return fmt.Errorf("%s: %w", e.Message, ErrDeadline)
	case ReasonCanceled:
		return fmt.Errorf("%s: %w", e.Message, context.Canceled)
	}
	return errors.New(e.Message)
}

// classify turns what a guest call returned into an Exit. refused tells
// whether the instance was refused memory; ctx is the run's context.
func classify(err error, refused bool, ctx context.Context) Exit {
	if err == nil {
		return Exit{Code: 0, Reason: ReasonCompleted}
	}
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		switch code := ee.ExitCode(); code {
		case 0:
			return Exit{Code: 0, Reason: ReasonCompleted}
		case sys.ExitCodeDeadlineExceeded:
			return Exit{Code: ExitCodeKilled, Reason: ReasonDeadlineExceeded, Message: "stopped at its deadline"}
		case sys.ExitCodeContextCanceled:
			return Exit{Code: ExitCodeKilled, Reason: ReasonCanceled, Message: "canceled"}
		default:
			if refused {
				return Exit{Code: code, Reason: ReasonOOMKilled, Message: fmt.Sprintf("exited with code %d after its memory limit refused it more", code)}
			}
			return Exit{Code: code, Reason: ReasonError, Message: fmt.Sprintf("exited with code %d", code)}
		}
	}
	switch {
	case refused:
		return Exit{Code: ExitCodeKilled, Reason: ReasonOOMKilled, Message: "trapped after its memory limit refused it more: " + err.Error(), Trapped: true}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return Exit{Code: ExitCodeKilled, Reason: ReasonDeadlineExceeded, Message: "stopped at its deadline"}
	case ctx.Err() != nil:
		return Exit{Code: ExitCodeKilled, Reason: ReasonCanceled, Message: "canceled"}
	}
	return Exit{Code: ExitCodeTrap, Reason: ReasonError, Message: "trapped: " + err.Error(), Trapped: true}
}
