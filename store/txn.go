package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// txnRequest carries a Txn from its caller to the committer and its result
// back.
type txnRequest struct {
	txn  Txn
	done chan txnResult // buffered: the syncer never blocks on a caller
}

// txnRequests recycles requests (and their channels) that were answered.
var txnRequests = sync.Pool{New: func() any { return &txnRequest{done: make(chan txnResult, 1)} }}

type txnResult struct {
	resp TxnResponse
	err  error
}

// pendingTxn is a Txn the committer has evaluated; the syncer answers it.
type pendingTxn struct {
	req    *txnRequest
	rev    int64 // revision written; 0 if the Txn wrote nothing
	events []Event
	result txnResult
}

// pendingGroup is the Txns the committer evaluated together and applied as
// one Pebble batch; the syncer completes groups in order.
type pendingGroup struct {
	batch *pebble.Batch // nil if no Txn of the group wrote anything
	txns  []*pendingTxn // the next group reads their events while this one is still being applied
	// applied is closed once the batch is in Pebble (or failed).
	applied chan struct{}
}

// Group limits: the committer takes every Txn already queued, up to these,
// into one batch.
const (
	maxGroupTxns  = 256
	maxGroupBytes = 4 << 20
)

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
	req := txnRequests.Get().(*txnRequest)
	req.txn = t
	select {
	case s.requests <- req:
	case <-s.closing:
		return TxnResponse{}, ErrClosed
	case <-ctx.Done():
		return TxnResponse{}, ctx.Err()
	}
	select {
	case r := <-req.done:
		req.txn = Txn{}
		txnRequests.Put(req) // answered: nothing refers to it any more
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
	var seen map[string]struct{} // for large Txns; small ones compare pairs
	if len(t.Ops) > 8 {
		seen = make(map[string]struct{}, len(t.Ops))
	}
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
		dup := false
		if seen != nil {
			_, dup = seen[string(op.Key)]
			seen[string(op.Key)] = struct{}{}
		} else {
			for _, earlier := range t.Ops[:i] {
				dup = dup || bytes.Equal(earlier.Key, op.Key)
			}
		}
		if dup {
			return invalidf("txn op %d: key %q is written twice in one txn", i, op.Key)
		}
	}
	return nil
}

// commitLoop is the committer. It takes the Txns waiting in the queue (at
// least one, at most a group's limits), evaluates them in order against the
// newest state — including applied writes whose fsync is still pending —
// applies the group as one Pebble batch without waiting for its fsync, and
// hands it to the syncer. A lone writer makes groups of one; many writers
// make larger groups, which is what lets the store keep up with Pebble.
func (s *Store) commitLoop() {
	defer s.wg.Done()
	toApply := make(chan *pendingGroup, 1)
	s.wg.Add(1)
	go s.applyLoop(toApply)
	defer close(toApply)

	applied := s.rev.Load() // newest revision evaluated
	// prev is the group handed to the applier last; the one before it is
	// always fully applied when a new group starts.
	var prev *pendingGroup
	var reqs []*txnRequest
	for {
		select {
		case req := <-s.requests:
			reqs = append(reqs[:0], req)
			size := txnSize(req.txn)
		gather:
			for len(reqs) < maxGroupTxns && size < maxGroupBytes {
				select {
				case req := <-s.requests:
					reqs = append(reqs, req)
					size += txnSize(req.txn)
				default:
					break gather
				}
			}
			g := s.evaluateGroup(reqs, applied, prev)
			for _, p := range g.txns {
				applied = max(applied, p.rev)
			}
			if prev != nil {
				<-prev.applied // at most one group in flight to Pebble
			}
			toApply <- g
			prev = g
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

// applyLoop applies groups to Pebble in order, without waiting for their
// fsync, and passes them on to the syncer.
func (s *Store) applyLoop(groups <-chan *pendingGroup) {
	defer s.wg.Done()
	defer close(s.pipeline)
	for g := range groups {
		if g.batch != nil {
			var err error
			if s.failed.Load() != nil {
				err = errors.New("an earlier write failed")
			} else if s.cfg.NoSync {
				err = s.db.Apply(g.batch, pebble.NoSync)
			} else {
				err = s.db.ApplyNoSyncWait(g.batch, pebble.Sync)
			}
			if err != nil {
				g.batch.Close()
				g.batch = nil
				s.fail(fmt.Errorf("store: write: %w", err)) // the syncer fails the group's Txns
			}
		}
		close(g.applied)
		s.pipeline <- g
	}
}

func txnSize(t Txn) int {
	n := 0
	for _, op := range t.Ops {
		n += len(op.Key) + len(op.Value)
	}
	return n
}

// keyState is the newest version of a key as the committer sees it.
type keyState struct {
	live      bool
	createRev int64
	modRev    int64
	version   int64
}

// keyMeta is what the committer's index keeps of each live key.
type keyMeta struct {
	createRev, modRev, version int64
}

// groupView answers the committer's reads for one group. Revisions come
// from the index of live keys (updated Txn by Txn, so it includes every
// earlier Txn); a deleted key's last value comes from the events of the
// group's own Txns, those of the previous group (which may still be on
// their way into Pebble), or Pebble, which holds every group before those.
type groupView struct {
	s      *Store
	groups [2]*pendingGroup // this group and the previous one (may be nil)
	keyBuf []byte
}

func (v *groupView) lookup(key []byte) keyState {
	m, ok := v.s.index[string(key)]
	if !ok {
		return keyState{}
	}
	return keyState{live: true, createRev: m.createRev, modRev: m.modRev, version: m.version}
}

// value returns the value of a live key's newest version st.
func (v *groupView) value(key []byte, st keyState) ([]byte, error) {
	for _, g := range v.groups {
		if value, ok := g.putValue(key, st.modRev); ok {
			return value, nil
		}
	}
	v.keyBuf = versionKey(v.keyBuf[:0], key, st.modRev)
	b, closer, err := v.s.db.Get(v.keyBuf)
	if err != nil {
		return nil, fmt.Errorf("store: txn: read %q at %d: %w", key, st.modRev, err)
	}
	defer closer.Close()
	rec, err := decodeVersionRecord(b)
	if err != nil || rec.tombstone {
		return nil, fmt.Errorf("store: txn: read %q at %d: %w", key, st.modRev, errCorruptRecord)
	}
	return bytes.Clone(rec.value), nil
}

// putValue returns the value the group's Txn at revision rev put at key,
// if the group wrote that revision. Groups are small and deletes of keys
// written a moment ago are rare, so a scan beats keeping a map per group.
func (g *pendingGroup) putValue(key []byte, rev int64) ([]byte, bool) {
	if g == nil {
		return nil, false
	}
	for _, p := range g.txns {
		if p.rev != rev {
			continue
		}
		for _, ev := range p.events {
			if ev.Type == EventPut && bytes.Equal(ev.KV.Key, key) {
				return ev.KV.Value, true
			}
		}
		return nil, false
	}
	return nil, false
}

func (s *Store) evaluateGroup(reqs []*txnRequest, applied int64, prev *pendingGroup) *pendingGroup {
	g := &pendingGroup{txns: make([]*pendingTxn, len(reqs)), applied: make(chan struct{})}
	txns := make([]pendingTxn, len(reqs))
	for i, req := range reqs {
		txns[i].req = req
		g.txns[i] = &txns[i]
	}
	if errp := s.failed.Load(); errp != nil {
		for _, p := range g.txns {
			p.result.err = *errp
		}
		return g
	}
	view := &groupView{s: s, groups: [2]*pendingGroup{g, prev}}
	var keyBuf, recBuf []byte // scratch: Batch.Set copies
	now := s.cfg.Now().UnixNano()
	for _, p := range g.txns {
		s.evaluate(p, view, applied)
		if p.result.err != nil || len(p.events) == 0 {
			continue
		}
		rev := applied + 1
		if g.batch == nil {
			g.batch = s.db.NewBatch()
		}
		for _, ev := range p.events {
			keyBuf = versionKey(keyBuf[:0], ev.KV.Key, rev)
			key := string(ev.KV.Key)
			if ev.Type == EventPut {
				recBuf = appendVersionRecord(recBuf[:0], ev.KV.CreateRevision, ev.KV.Version, ev.KV.Value)
				g.batch.Set(keyBuf, recBuf, nil)
				s.index[key] = keyMeta{createRev: ev.KV.CreateRevision, modRev: rev, version: ev.KV.Version}
			} else {
				g.batch.Set(keyBuf, tombstoneRecord, nil)
				delete(s.index, key)
			}
		}
		recBuf = appendLogRecord(recBuf[:0], now, p.events)
		g.batch.Set(logKey(rev), recBuf, nil)
		p.rev = rev
		p.result.resp = TxnResponse{Revision: rev, Changed: true}
		applied = rev
	}
	return g
}

// evaluate checks one Txn's compares and computes its events against the
// view, which reflects every earlier Txn (applied is the newest revision).
// It reads everything it needs before deciding, so a read error leaves no
// part of the Txn behind.
func (s *Store) evaluate(p *pendingTxn, view *groupView, applied int64) {
	t := p.req.txn
	for i, c := range t.Compares {
		st := view.lookup(c.Key)
		var actual int64
		if st.live {
			actual = st.modRev
			if c.Target == CompareCreateRevision {
				actual = st.createRev
			}
		}
		if actual != c.Revision {
			p.result.err = &CompareFailedError{Index: i, Compare: c, Actual: actual, Revision: applied}
			return
		}
	}
	rev := applied + 1
	p.events = make([]Event, 0, len(t.Ops))
	for _, op := range t.Ops {
		st := view.lookup(op.Key)
		switch op.Type {
		case OpPut:
			createRev, version := rev, int64(1)
			if st.live {
				createRev, version = st.createRev, st.version+1
			}
			key, value := cloneKeyValue(op.Key, op.Value)
			p.events = append(p.events, Event{Type: EventPut, KV: KeyValue{
				Key: key, Value: value, CreateRevision: createRev, ModRevision: rev, Version: version}})
		case OpDelete:
			if st.live {
				value, err := view.value(op.Key, st)
				if err != nil {
					p.result.err = err
					p.events = nil
					return
				}
				p.events = append(p.events, Event{Type: EventDelete, KV: KeyValue{
					Key: bytes.Clone(op.Key), Value: value, CreateRevision: st.createRev, ModRevision: rev}})
			}
		}
	}
	if len(p.events) == 0 {
		p.result.resp = TxnResponse{Revision: applied}
	}
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

// syncLoop completes groups in order: it waits for each group's fsync,
// then, Txn by Txn, makes its revision visible, publishes its events and
// answers its caller. A Txn that wrote nothing is answered in the same
// order, so no caller learns of a state that is not yet durable.
func (s *Store) syncLoop() {
	defer s.wg.Done()
	defer close(s.pipelineDone)
	for g := range s.pipeline {
		if g.batch != nil {
			if !s.cfg.NoSync {
				if err := g.batch.SyncWait(); err != nil {
					s.fail(fmt.Errorf("store: sync: %w", err))
				}
			}
			g.batch.Close()
		}
		for _, p := range g.txns {
			if errp := s.failed.Load(); errp != nil && p.result.err == nil {
				// This group's or an earlier group's write failed after this
				// Txn was evaluated against it: it cannot be acknowledged.
				p.result = txnResult{err: *errp}
			}
			if p.result.err == nil && p.rev > 0 {
				s.rev.Store(p.rev)
				s.hub.publish(p.rev, p.events)
			}
			p.req.done <- p.result
		}
	}
}

// cloneKeyValue copies a key and value into one allocation: events outlive
// the caller's slices.
func cloneKeyValue(key, value []byte) ([]byte, []byte) {
	b := make([]byte, len(key)+len(value))
	n := copy(b, key)
	copy(b[n:], value)
	return b[:n:n], b[n:]
}
