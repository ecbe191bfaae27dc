package store

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: the key does not exist.
	ErrNotFound = errors.New("store: key not found")
	// ErrInvalid: the request is malformed (empty key, value too large, ...).
	// The store did not change.
	ErrInvalid = errors.New("store: invalid request")
	// ErrCompareFailed: a Txn precondition did not hold; errors.As gives
	// the *CompareFailedError with the details.
	ErrCompareFailed = errors.New("store: compare failed")
	// ErrCompacted: the requested revision is older than the compaction
	// point; errors.As gives the *CompactedError. Callers relist.
	ErrCompacted = errors.New("store: revision compacted")
	// ErrFutureRevision: the requested revision has not been written yet.
	ErrFutureRevision = errors.New("store: revision is in the future")
	// ErrWatcherTooSlow: a watcher fell further behind than its queue
	// limit allows and was cut off. It may watch again from the last
	// revision it received.
	ErrWatcherTooSlow = errors.New("store: watcher too slow, cut off")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store: closed")
	// ErrOutcomeUnknown: the caller's context ended while its Txn was being
	// committed; the Txn may or may not have been applied.
	ErrOutcomeUnknown = errors.New("store: txn outcome unknown")
	// ErrLocked: another process (or another Store) holds the directory.
	ErrLocked = errors.New("store: directory in use")
)

// CompareFailedError says which Compare of a Txn failed.
type CompareFailedError struct {
	// Index of the failed Compare in Txn.Compares.
	Index   int
	Compare Compare
	// Actual is the compared revision's current value (0: key absent).
	Actual int64
	// Revision is the store's revision when the Txn was evaluated.
	Revision int64
}

func (e *CompareFailedError) Error() string {
	return fmt.Sprintf("store: compare %d failed: key %q %s is %d, want %d (store revision %d)",
		e.Index, e.Compare.Key, e.Compare.Target, e.Actual, e.Compare.Revision, e.Revision)
}

func (e *CompareFailedError) Is(target error) bool { return target == ErrCompareFailed }

// CompactedError says which revision the store is compacted to.
type CompactedError struct {
	Requested       int64
	CompactRevision int64
	CurrentRevision int64
}

func (e *CompactedError) Error() string {
	return fmt.Sprintf("store: revision %d is compacted (oldest available %d, current %d)",
		e.Requested, e.CompactRevision, e.CurrentRevision)
}

func (e *CompactedError) Is(target error) bool { return target == ErrCompacted }

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
