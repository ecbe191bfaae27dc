package apiserver

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/store"
)

// This file is the one place where domain and store errors become Connect
// codes.
//
//	store.ErrNotFound        NotFound
//	store.ErrCompareFailed   Aborted (Create turns a failed Absent compare into AlreadyExists)
//	store.ErrCompacted       OutOfRange, message "revision compacted", RevisionCompacted detail
//	store.ErrFutureRevision  InvalidArgument: the client asked for a revision that does not
//	                         exist yet (ListRequest.revision documents this). OutOfRange is
//	                         reserved for compaction so that the code alone identifies it.
//	store.ErrInvalid         InvalidArgument (e.g. an object larger than the store accepts)
//	store.ErrClosed,
//	store.ErrWatcherTooSlow,
//	store.ErrOutcomeUnknown  Unavailable: retry, or resume the watch from the last revision
//	context errors           Canceled / DeadlineExceeded
//	anything else            Internal

// translate turns an error of the store, met while doing what `doing` says,
// into a Connect error. Connect errors pass through unchanged.
func translate(err error, doing string) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	var compacted *store.CompactedError
	switch {
	case errors.As(err, &compacted):
		return compactedError(compacted.Requested, compacted.CompactRevision)
	case errors.Is(err, store.ErrCompacted):
		return compactedError(0, 0)
	case errors.Is(err, store.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("%s: %w", doing, err))
	case errors.Is(err, store.ErrCompareFailed):
		return connect.NewError(connect.CodeAborted, fmt.Errorf("%s: the object changed concurrently; read it again and retry: %w", doing, err))
	case errors.Is(err, store.ErrFutureRevision):
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: %w", doing, err))
	case errors.Is(err, store.ErrInvalid):
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: %w", doing, err))
	case errors.Is(err, store.ErrClosed), errors.Is(err, store.ErrWatcherTooSlow), errors.Is(err, store.ErrOutcomeUnknown):
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("%s: %w", doing, err))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, fmt.Errorf("%s: %w", doing, err))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("%s: %w", doing, err))
	}
	return connect.NewError(connect.CodeInternal, fmt.Errorf("%s: %w", doing, err))
}

// compactedError is the documented error of a read or watch at a compacted
// revision: OutOfRange, "revision compacted", with a RevisionCompacted detail.
func compactedError(requested, compactedRev int64) error {
	e := connect.NewError(connect.CodeOutOfRange, errors.New("revision compacted"))
	detail, err := connect.NewErrorDetail(&waskv1.RevisionCompacted{
		RequestedRevision: formatRevision(requested),
		CompactedRevision: formatRevision(compactedRev),
	})
	if err == nil {
		e.AddDetail(detail)
	}
	return e
}

func invalidArgument(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}

func failedPrecondition(format string, args ...any) error {
	return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(format, args...))
}

func aborted(format string, args ...any) error {
	return connect.NewError(connect.CodeAborted, fmt.Errorf(format, args...))
}

// notFound is the NotFound error of an object: `pods "x" not found in namespace "default"`.
func notFound(k *kindInfo, ns, name string) error {
	if k.namespaced {
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("%s %q not found in namespace %q", k.plural, name, ns))
	}
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("%s %q not found", k.plural, name))
}

// alreadyExists is the AlreadyExists error of Create.
func alreadyExists(k *kindInfo, ns, name string) error {
	if k.namespaced {
		return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("%s %q already exists in namespace %q", k.plural, name, ns))
	}
	return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("%s %q already exists", k.plural, name))
}

// failedCompare returns the index of the Compare that failed, or -1 if err
// is not a failed compare.
func failedCompare(err error) int {
	var cf *store.CompareFailedError
	if errors.As(err, &cf) {
		return cf.Index
	}
	return -1
}
