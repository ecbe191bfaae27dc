package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// model is a simple in-memory reference implementation of the store's
// documented semantics, used by FuzzStore and TestModelRandomSequences.
// It keeps the whole history (compaction only moves the compaction point:
// every read the store still allows must give the same answer as before).
type model struct {
	rev        int64 // current revision
	compactRev int64 // compaction point (0: nothing compacted)
	// history holds every version of every key ever written, oldest first.
	history map[string][]modelVersion
	// log holds the events of each revision; log[i] is revision i+1.
	log [][]Event
}

// modelVersion is one version of a key: a put or a delete.
type modelVersion struct {
	value     []byte
	createRev int64
	modRev    int64
	version   int64
	deleted   bool
}

func newModel() *model {
	return &model{history: make(map[string][]modelVersion)}
}

// at returns the version of key visible at rev, if the key is live there.
func (m *model) at(key []byte, rev int64) (modelVersion, bool) {
	h := m.history[string(key)]
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].modRev <= rev {
			if h[i].deleted {
				return modelVersion{}, false
			}
			return h[i], true
		}
	}
	return modelVersion{}, false
}

func (m *model) current(key []byte) (modelVersion, bool) { return m.at(key, m.rev) }

func (v modelVersion) kv(key []byte) KeyValue {
	return KeyValue{Key: bytes.Clone(key), Value: bytes.Clone(v.value), CreateRevision: v.createRev, ModRevision: v.modRev, Version: v.version}
}

// Default limits of Config (the fuzz test never comes near the size limits,
// but the model checks them anyway).
const (
	modelMaxKeySize   = 8 << 10
	modelMaxValueSize = 3 << 19
	modelMaxTxnOps    = 10_000
)

func modelCheckKey(key []byte) error {
	if len(key) == 0 || len(key) > modelMaxKeySize {
		return ErrInvalid
	}
	return nil
}

func (m *model) validateTxn(t Txn) error {
	if len(t.Compares)+len(t.Ops) > modelMaxTxnOps {
		return ErrInvalid
	}
	for _, c := range t.Compares {
		if err := modelCheckKey(c.Key); err != nil {
			return err
		}
		if c.Target != CompareModRevision && c.Target != CompareCreateRevision {
			return ErrInvalid
		}
		if c.Revision < 0 {
			return ErrInvalid
		}
	}
	seen := make(map[string]bool)
	for _, op := range t.Ops {
		if err := modelCheckKey(op.Key); err != nil {
			return err
		}
		switch op.Type {
		case OpPut:
			if len(op.Value) > modelMaxValueSize {
				return ErrInvalid
			}
		case OpDelete:
		default:
			return ErrInvalid
		}
		if seen[string(op.Key)] {
			return ErrInvalid
		}
		seen[string(op.Key)] = true
	}
	return nil
}

// txn applies t like Store.Txn and returns what the store must return, plus
// the events it must publish.
func (m *model) txn(t Txn) (TxnResponse, []Event, error) {
	if err := m.validateTxn(t); err != nil {
		return TxnResponse{}, nil, err
	}
	for i, c := range t.Compares {
		var actual int64
		if v, ok := m.current(c.Key); ok {
			actual = v.modRev
			if c.Target == CompareCreateRevision {
				actual = v.createRev
			}
		}
		if actual != c.Revision {
			return TxnResponse{}, nil, &CompareFailedError{Index: i, Compare: c, Actual: actual, Revision: m.rev}
		}
	}
	rev := m.rev + 1
	var events []Event
	type write struct {
		key string
		v   modelVersion
	}
	var writes []write
	for _, op := range t.Ops {
		cur, live := m.current(op.Key)
		switch op.Type {
		case OpPut:
			v := modelVersion{value: bytes.Clone(op.Value), createRev: rev, modRev: rev, version: 1}
			if live {
				v.createRev, v.version = cur.createRev, cur.version+1
			}
			writes = append(writes, write{string(op.Key), v})
			events = append(events, Event{Type: EventPut, KV: v.kv(op.Key)})
		case OpDelete:
			if !live {
				continue // deleting an absent key changes nothing
			}
			v := modelVersion{value: cur.value, createRev: cur.createRev, modRev: rev, deleted: true}
			writes = append(writes, write{string(op.Key), v})
			events = append(events, Event{Type: EventDelete, KV: KeyValue{
				Key: bytes.Clone(op.Key), Value: bytes.Clone(cur.value),
				CreateRevision: cur.createRev, ModRevision: rev, Version: 0,
			}})
		}
	}
	if len(events) == 0 {
		return TxnResponse{Revision: m.rev}, nil, nil
	}
	for _, w := range writes {
		m.history[w.key] = append(m.history[w.key], w.v)
	}
	m.rev = rev
	m.log = append(m.log, events)
	return TxnResponse{Revision: rev, Changed: true}, events, nil
}

func (m *model) get(key []byte) (KeyValue, error) {
	if err := modelCheckKey(key); err != nil {
		return KeyValue{}, err
	}
	v, ok := m.current(key)
	if !ok {
		return KeyValue{}, ErrNotFound
	}
	return v.kv(key), nil
}

// checkReadRevision resolves a read revision (0: current).
func (m *model) checkReadRevision(rev int64) (int64, error) {
	if rev == 0 {
		rev = m.rev
	}
	if rev > m.rev {
		return 0, ErrFutureRevision
	}
	if rev < m.compactRev {
		return 0, &CompactedError{Requested: rev, CompactRevision: m.compactRev, CurrentRevision: m.rev}
	}
	return rev, nil
}

// keys returns every key ever written, in byte order.
func (m *model) keys() [][]byte {
	out := make([][]byte, 0, len(m.history))
	for k := range m.history {
		out = append(out, []byte(k))
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
	return out
}

func (m *model) list(opts ListOptions) (ListResult, error) {
	if opts.Limit < 0 {
		return ListResult{}, ErrInvalid
	}
	rev, err := m.checkReadRevision(opts.Revision)
	if err != nil {
		return ListResult{}, err
	}
	res := ListResult{Revision: rev}
	for _, k := range m.keys() {
		if !bytes.HasPrefix(k, opts.Prefix) {
			continue
		}
		if opts.After != nil && bytes.Compare(k, opts.After) <= 0 {
			continue
		}
		v, ok := m.at(k, rev)
		if !ok {
			continue
		}
		if opts.Limit > 0 && len(res.KVs) == opts.Limit {
			res.More = true
			break
		}
		res.KVs = append(res.KVs, v.kv(k))
	}
	return res, nil
}

func (m *model) compact(rev int64) error {
	if rev > m.rev {
		return ErrFutureRevision
	}
	if rev == m.compactRev {
		return nil
	}
	if rev < m.compactRev {
		return &CompactedError{Requested: rev, CompactRevision: m.compactRev, CurrentRevision: m.rev}
	}
	m.compactRev = rev
	return nil
}

// checkWatch returns the error Watch(prefix, from) must fail with, if any.
func (m *model) checkWatch(from int64) error {
	if from < 0 {
		return ErrInvalid
	}
	if from < m.compactRev {
		return &CompactedError{Requested: from, CompactRevision: m.compactRev, CurrentRevision: m.rev}
	}
	return nil
}

// events returns the events of the revisions after from, up to the current
// revision, of the keys under prefix.
func (m *model) events(prefix []byte, from int64) []Event {
	var out []Event
	for i := from; i < m.rev; i++ {
		for _, ev := range m.log[i] {
			if bytes.HasPrefix(ev.KV.Key, prefix) {
				out = append(out, ev)
			}
		}
	}
	return out
}

// revisionsOf returns the create and mod revisions that key ever had, for
// picking compare revisions that are sometimes right.
func (m *model) revisionsOf(key []byte) []int64 {
	var out []int64
	for _, v := range m.history[string(key)] {
		out = append(out, v.modRev, v.createRev)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// errClass reduces an error to what the store documents about it, so that
// the store's wrapped errors compare equal to the model's plain ones.
type errClass struct {
	Sentinel      string
	CompareFailed *CompareFailedError
	Compacted     *CompactedError
}

var classifiedSentinels = []error{
	ErrNotFound, ErrInvalid, ErrFutureRevision, ErrWatcherTooSlow,
	ErrClosed, ErrOutcomeUnknown, ErrLocked,
}

func classify(err error) errClass {
	if err == nil {
		return errClass{}
	}
	var cf *CompareFailedError
	if errors.As(err, &cf) {
		return errClass{Sentinel: "ErrCompareFailed", CompareFailed: cf}
	}
	var ce *CompactedError
	if errors.As(err, &ce) {
		return errClass{Sentinel: "ErrCompacted", Compacted: ce}
	}
	for _, s := range classifiedSentinels {
		if errors.Is(err, s) {
			return errClass{Sentinel: s.Error()}
		}
	}
	return errClass{Sentinel: fmt.Sprintf("unexpected error: %v", err)}
}
