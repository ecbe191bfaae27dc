package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// compactChunk is how many revisions of the change log one compaction step
// reads; each step is one Pebble batch.
const compactChunk = 4096

// Compact discards the history before rev: afterwards, reads at revisions
// older than rev and watches from revisions older than rev fail with
// ErrCompacted. The newest version of every key at rev, and everything
// after, is kept. Compacting to the current compaction point is a no-op;
// to an older one fails with ErrCompacted.
//
// Compaction survives a crash: the intent is recorded (synced) first and a
// reopened store finishes it.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	if err := s.checkOpen(); err != nil {
		return err
	}
	current := s.rev.Load()
	if rev > current {
		return fmt.Errorf("%w: compact to %d (current %d)", ErrFutureRevision, rev, current)
	}
	prev := s.compactRev.Load()
	if rev == prev {
		return nil
	}
	if rev < prev {
		return &CompactedError{Requested: rev, CompactRevision: prev, CurrentRevision: current}
	}
	if err := s.db.Set(metaCompacting, binary.BigEndian.AppendUint64(nil, uint64(rev)), pebble.Sync); err != nil {
		return fmt.Errorf("store: compact to %d: record intent: %w", rev, err)
	}
	// From here on readers refuse revisions before rev, so they never
	// observe the partial state below.
	s.compactRev.Store(rev)
	if err := s.finishCompaction(prev, rev); err != nil {
		return fmt.Errorf("store: compact to %d: %w", rev, err)
	}
	s.cfg.Logger.Debug("store compacted", "revision", rev, "previous", prev)
	return ctx.Err()
}

// finishCompaction deletes the versions superseded at rev of every key
// written in (prev, rev], then the change log up to rev, and records rev as
// the compaction point. Only keys written in (prev, rev] can have versions
// that rev supersedes and an earlier compaction did not already delete.
func (s *Store) finishCompaction(prev, rev int64) error {
	for after := prev; after < rev; {
		upTo := min(rev, after+compactChunk)
		if err := s.compactKeysWritten(after, upTo, rev); err != nil {
			return err
		}
		after = upTo
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(logKey(0), logKey(rev+1), nil); err != nil {
		return err
	}
	if err := b.Set(metaCompact, binary.BigEndian.AppendUint64(nil, uint64(rev)), nil); err != nil {
		return err
	}
	if err := b.Delete(metaCompacting, nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

func (s *Store) compactKeysWritten(after, upTo, rev int64) error {
	logIt, err := s.db.NewIter(&pebble.IterOptions{LowerBound: logKey(after + 1), UpperBound: logKey(upTo + 1)})
	if err != nil {
		return err
	}
	keys := make(map[string]struct{})
	for valid := logIt.First(); valid; valid = logIt.Next() {
		r, _ := logKeyRevision(logIt.Key())
		changes, err := decodeLogRecord(r, logIt.Value())
		if err != nil {
			logIt.Close()
			return err
		}
		for _, c := range changes {
			keys[string(c.key)] = struct{}{}
		}
	}
	if err := errors.Join(logIt.Error(), logIt.Close()); err != nil {
		return err
	}

	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixVersion}, UpperBound: []byte{prefixVersion + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer b.Close()
	for key := range keys {
		if err := compactKey(it, b, []byte(key), rev); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	return b.Commit(pebble.NoSync)
}

// compactKey adds to b the deletion of key's versions that rev supersedes:
// every version older than the newest one at or before rev, and that one
// too if it is a tombstone. A single range deletion covers them, and it
// never reaches a version newer than rev, so writes racing with compaction
// are untouched.
func compactKey(it *pebble.Iterator, b *pebble.Batch, key []byte, rev int64) error {
	keyPart := versionKeyPrefix(nil, key)[1:]
	if !it.SeekGE(versionKey(nil, key, rev)) {
		return nil
	}
	part, _, ok := splitVersionKey(it.Key())
	if !ok || !bytes.Equal(part, keyPart) {
		return nil // no version at or before rev
	}
	rec, err := decodeVersionRecord(it.Value())
	if err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	from := bytes.Clone(it.Key())
	if !rec.tombstone {
		if !it.Next() {
			return nil
		}
		if part, _, _ := splitVersionKey(it.Key()); !bytes.Equal(part, keyPart) {
			return nil // nothing older
		}
		from = bytes.Clone(it.Key())
	}
	return b.DeleteRange(from, afterAllVersions(keyPart), nil)
}

func (s *Store) autoCompactLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.CompactionInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
			if _, err := s.compactByPolicy(context.Background()); err != nil && !errors.Is(err, ErrClosed) {
				s.cfg.Logger.Warn("store automatic compaction failed", "err", err)
			}
		}
	}
}

// compactByPolicy compacts away history that is both older than the last
// RetainRevisions revisions and older than RetainDuration, and returns the
// new compaction point (0 if it did not compact).
func (s *Store) compactByPolicy(ctx context.Context) (int64, error) {
	current, compacted := s.rev.Load(), s.compactRev.Load()
	target := current - s.cfg.RetainRevisions
	if target <= compacted {
		return 0, nil
	}
	cutoff := s.cfg.Now().Add(-s.cfg.RetainDuration).UnixNano()
	target, err := s.lastRevisionBefore(compacted, target, cutoff)
	if err != nil || target <= compacted {
		return 0, err
	}
	return target, s.Compact(ctx, target)
}

// lastRevisionBefore returns the newest revision in (lo, hi] committed at
// or before the unix time cutoff, or lo if there is none. It binary-searches
// the change log, whose times grow with revisions (a clock stepping back
// only makes it keep more).
func (s *Store) lastRevisionBefore(lo, hi, cutoff int64) (int64, error) {
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		v, err := s.getRaw(logKey(mid))
		if errors.Is(err, ErrNotFound) {
			return lo, nil // compacted concurrently
		}
		if err != nil {
			return 0, err
		}
		t, err := decodeLogTime(v)
		if err != nil {
			return 0, fmt.Errorf("log record %d: %w", mid, err)
		}
		if t <= cutoff {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}
