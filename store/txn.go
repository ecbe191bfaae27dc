package store

import (
	"bytes"
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// txnRequest carries a Txn from its caller to the committer and its result
// back.
type txnRequest struct {
	txn  Txn
	done chan txnResult // buffered: the syncer never blocks on a caller
}

type txnResult struct {
	resp TxnResponse
	err  error
}

// pendingTxn is a Txn the committer has evaluated, and, if it changed
// anything, applied to Pebble; the syncer completes it in order.
type pendingTxn struct {
	req    *txnRequest
	batch  *pebble.Batch // nil if nothing was written
	rev    int64         // revision written, if batch != nil
	events []Event
	result txnResult
}

// Txn applies t atomically if all its compares hold. It returns after the
// write is durable. A failed compare returns a *CompareFailedError (matching
// ErrCompareFailed) and writes nothing.
func (s *Store) Txn(ctx context.Context, t Txn) (TxnResponse, error) {
	if err := s.validateTxn(t); err != nil {
		return TxnResponse{}, err
	}
	if errp := s.failed.Load(); errp != nil {
		return TxnResponse{}, *errp
	}
	if err := s.checkOpen(); err != nil {
		return TxnResponse{}, err
	}
	req := &txnRequest{txn: t, done: make(chan txnResult, 1)}
	select {
	case s.requests <- req:
	case <-s.closing:
		return TxnResponse{}, ErrClosed
	case <-ctx.Done():
		return TxnResponse{}, ctx.Err()
	}
	select {
	case r := <-req.done:
		return r.resp, r.err
	case <-ctx.Done():
		return TxnResponse{}, fmt.Errorf("%w: %w", ErrOutcomeUnknown, ctx.Err())
	case <-s.pipelineDone:
		// The syncer has answered every Txn the committer took; one that
		// is still unanswered was never taken.
		select {
		case r := <-req.done:
			return r.resp, r.err
		default:
			return TxnResponse{}, ErrClosed
		}
	}
}

func (s *Store) validateTxn(t Txn) error {
	if n := len(t.Compares) + len(t.Ops); n > s.cfg.MaxTxnOps {
		return invalidf("txn has %d compares and ops, more than the limit of %d", n, s.cfg.MaxTxnOps)
	}
	for i, c := range t.Compares {
		if err := s.checkKey(c.Key); err != nil {
			return fmt.Errorf("txn compare %d: %w", i, err)
		}
		if c.Target != CompareModRevision && c.Target != CompareCreateRevision {
			return invalidf("txn compare %d (key %q): unknown target %d", i, c.Key, c.Target)
		}
		if c.Revision < 0 {
			return invalidf("txn compare %d (key %q): negative revision %d", i, c.Key, c.Revision)
		}
	}
	seen := make(map[string]struct{}, len(t.Ops))
	for i, op := range t.Ops {
		if err := s.checkKey(op.Key); err != nil {
			return fmt.Errorf("txn op %d: %w", i, err)
		}
		switch op.Type {
		case OpPut:
			if len(op.Value) > s.cfg.MaxValueSize {
				return invalidf("txn op %d (key %q): value of %d bytes exceeds the %d-byte limit", i, op.Key, len(op.Value), s.cfg.MaxValueSize)
			}
		case OpDelete:
		default:
			return invalidf("txn op %d (key %q): unknown op type %d", i, op.Key, op.Type)
		}
		if _, dup := seen[string(op.Key)]; dup {
			return invalidf("txn op %d: key %q is written twice in one txn", i, op.Key)
		}
		seen[string(op.Key)] = struct{}{}
	}
	return nil
}

// commitLoop is the committer: it evaluates Txns one at a time against the
// newest state (including applied writes whose fsync is still pending),
// applies each as one Pebble batch without waiting for its fsync, and hands
// it to the syncer.
func (s *Store) commitLoop() {
	defer s.wg.Done()
	defer close(s.pipeline)
	applied := s.rev.Load() // newest revision applied to Pebble
	for {
		select {
		case req := <-s.requests:
			p := s.evaluate(req, applied)
			if p.batch != nil {
				applied = p.rev
			}
			s.pipeline <- p
		case <-s.closing:
			for {
				select {
				case req := <-s.requests:
					req.done <- txnResult{err: ErrClosed}
				default:
					return
				}
			}
		}
	}
}

// keyState is the newest version of a key as the committer sees it.
type keyState struct {
	live      bool
	createRev int64
	modRev    int64
	version   int64
	value     []byte
}

func (s *Store) evaluate(req *txnRequest, applied int64) *pendingTxn {
	p := &pendingTxn{req: req}
	if errp := s.failed.Load(); errp != nil {
		p.result.err = *errp
		return p
	}
	t := req.txn
	states := make(map[string]keyState, len(t.Compares)+len(t.Ops))
	var keyBuf []byte
	lookup := func(key []byte) (keyState, error) {
		if st, ok := states[string(key)]; ok {
			return st, nil
		}
		keyBuf = versionKeyPrefix(keyBuf[:0], key)
		st, err := s.newestVersion(keyBuf)
		if err != nil {
			return keyState{}, fmt.Errorf("store: txn: read %q: %w", key, err)
		}
		states[string(key)] = st
		return st, nil
	}

	for i, c := range t.Compares {
		st, err := lookup(c.Key)
		if err != nil {
			p.result.err = err
			return p
		}
		var actual int64
		if st.live {
			actual = st.modRev
			if c.Target == CompareCreateRevision {
				actual = st.createRev
			}
		}
		if actual != c.Revision {
			p.result.err = &CompareFailedError{Index: i, Compare: c, Actual: actual, Revision: applied}
			return p
		}
	}

	rev := applied + 1
	var batch *pebble.Batch
	for _, op := range t.Ops {
		st, err := lookup(op.Key)
		if err != nil {
			p.result.err = err
			return p
		}
		var ev Event
		switch op.Type {
		case OpPut:
			createRev, version := rev, int64(1)
			if st.live {
				createRev, version = st.createRev, st.version+1
			}
			ev = Event{Type: EventPut, KV: KeyValue{Key: bytes.Clone(op.Key), Value: bytes.Clone(op.Value), CreateRevision: createRev, ModRevision: rev, Version: version}}
		case OpDelete:
			if !st.live {
				continue
			}
			ev = Event{Type: EventDelete, KV: KeyValue{Key: bytes.Clone(op.Key), Value: st.value, CreateRevision: st.createRev, ModRevision: rev}}
		}
		if batch == nil {
			batch = s.db.NewBatch()
		}
		keyBuf = versionKey(keyBuf[:0], op.Key, rev)
		if ev.Type == EventPut {
			batch.Set(keyBuf, appendVersionRecord(nil, ev.KV.CreateRevision, ev.KV.Version, op.Value), nil)
		} else {
			batch.Set(keyBuf, tombstoneRecord, nil)
		}
		p.events = append(p.events, ev)
	}
	if batch == nil {
		p.result.resp = TxnResponse{Revision: applied}
		return p
	}
	batch.Set(logKey(rev), appendLogRecord(nil, s.cfg.Now().UnixNano(), p.events), nil)
	var err error
	if s.cfg.NoSync {
		err = s.db.Apply(batch, pebble.NoSync)
	} else {
		err = s.db.ApplyNoSyncWait(batch, pebble.Sync)
	}
	if err != nil {
		batch.Close()
		err = s.fail(fmt.Errorf("store: write revision %d: %w", rev, err))
		p.result.err = err
		p.events = nil
		return p
	}
	p.batch, p.rev = batch, rev
	p.result.resp = TxnResponse{Revision: rev, Changed: true}
	return p
}

// newestVersion reads the newest version of the key whose version-key
// prefix is prefix, including writes not yet synced (only the committer may
// call it).
func (s *Store) newestVersion(prefix []byte) (keyState, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: successor(prefix)})
	if err != nil {
		return keyState{}, err
	}
	defer it.Close()
	if !it.First() {
		return keyState{}, it.Error()
	}
	_, modRev, _ := splitVersionKey(it.Key())
	rec, err := decodeVersionRecord(it.Value())
	if err != nil {
		return keyState{}, err
	}
	if rec.tombstone {
		return keyState{}, nil
	}
	return keyState{live: true, createRev: rec.createRevision, modRev: modRev, version: rec.version, value: bytes.Clone(rec.value)}, nil
}

// fail records the store's first write error. After it the store refuses
// writes: Pebble's state past the failed write is unknown, so only a reopen
// (which recovers from the WAL) is safe.
func (s *Store) fail(err error) error {
	wrapped := fmt.Errorf("%w (the store refuses writes until it is reopened)", err)
	if s.failed.CompareAndSwap(nil, &wrapped) {
		s.cfg.Logger.Error("store write failed", "err", err)
	}
	return *s.failed.Load()
}

// syncLoop completes pending Txns in revision order: it waits for each
// batch's fsync, then makes its revision visible, publishes its events and
// answers its caller. A Txn that wrote nothing is answered in the same order,
// so no caller learns of a state that is not yet durable.
func (s *Store) syncLoop() {
	defer s.wg.Done()
	defer close(s.pipelineDone)
	for p := range s.pipeline {
		if p.batch != nil {
			var err error
			if !s.cfg.NoSync {
				err = p.batch.SyncWait()
			}
			p.batch.Close()
			if err != nil {
				p.result = txnResult{err: s.fail(fmt.Errorf("store: sync revision %d: %w", p.rev, err))}
			}
		}
		if errp := s.failed.Load(); errp != nil && p.result.err == nil {
			// An earlier write failed after this Txn was evaluated against
			// it: this one cannot be acknowledged either.
			p.result = txnResult{err: *errp}
		}
		if p.result.err == nil && p.batch != nil {
			s.rev.Store(p.rev)
			s.hub.publish(p.rev, p.events)
		}
		p.req.done <- p.result
	}
}
