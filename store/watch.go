package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// Watch is a stream of changes under a key prefix. Read Events until it is
// closed, then Err says why it ended.
//
// The events' Key and Value slices are shared with other watchers and must
// not be modified.
type Watch struct {
	events chan Event
	err    error
	w      *watcher
	hub    *hub
}

// RequestProgress asks for an EventProgress carrying the newest revision up
// to which every change has been delivered, as etcd's progress request: a
// consumer learns how current it is although nothing under its prefix
// changed. The event comes after every change up to that revision.
func (w *Watch) RequestProgress() { w.hub.requestProgress(w.w) }

// Events delivers every change in revision order, each exactly once. It is
// closed when the watch ends.
func (w *Watch) Events() <-chan Event { return w.events }

// Err returns why the watch ended: the context's error, ErrWatcherTooSlow,
// a *CompactedError, or ErrClosed. Valid only after Events is closed.
func (w *Watch) Err() error { return w.err }

// catchUpChunk is how many revisions a catching-up watcher reads from the
// change log at a time, so that it never pins a Pebble iterator while it
// waits for its consumer.
const catchUpChunk = 1024

// Watch streams every change to keys under prefix with a revision greater
// than fromRevision, then live changes, until ctx ends. To watch from now,
// pass Revision() (or the revision of a List). A fromRevision older than the
// compaction point fails with a *CompactedError (matching ErrCompacted):
// list again, then watch from the list's revision.
func (s *Store) Watch(ctx context.Context, prefix []byte, fromRevision int64) (*Watch, error) {
	if fromRevision < 0 {
		return nil, invalidf("watch: negative revision %d", fromRevision)
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if c := s.compactRev.Load(); fromRevision < c {
		return nil, &CompactedError{Requested: fromRevision, CompactRevision: c, CurrentRevision: s.rev.Load()}
	}
	w := &watcher{
		prefix: bytes.Clone(prefix),
		from:   fromRevision,
		notify: make(chan struct{}, 1),
	}
	out := &Watch{events: make(chan Event), w: w, hub: s.hub}
	if !s.startWatchGoroutine() {
		return nil, ErrClosed
	}
	go func() {
		defer s.watchWG.Done()
		out.err = s.runWatch(ctx, w, out.events)
		close(out.events)
	}()
	return out, nil
}

func (s *Store) runWatch(ctx context.Context, w *watcher, out chan<- Event) error {
	for next := w.from; ; { // next: the last revision covered
		var err error
		if next, err = s.catchUp(ctx, w, next, out); err != nil {
			return err
		}
		registered, err := s.hub.register(w, next)
		if err != nil {
			return err
		}
		if registered {
			break
		}
	}
	defer s.hub.unregister(w)
	for {
		select {
		case <-w.notify:
		case <-ctx.Done():
			return ctx.Err()
		}
		events, err := w.take()
		if err != nil {
			return err
		}
		for _, ev := range events {
			select {
			case out <- ev:
			case <-ctx.Done():
				return ctx.Err()
			case <-s.closing:
				return ErrClosed
			}
		}
	}
}

// startWatchGoroutine counts a watch goroutine in, unless Close has begun
// waiting for them.
func (s *Store) startWatchGoroutine() bool {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.watchesClosed {
		return false
	}
	s.watchWG.Add(1)
	return true
}

// catchUp sends the logged changes after revision next up to the current
// revision and returns the last revision it covered.
func (s *Store) catchUp(ctx context.Context, w *watcher, next int64, out chan<- Event) (int64, error) {
	for {
		current := s.rev.Load()
		if next >= current {
			return next, nil
		}
		upTo := min(current, next+catchUpChunk)
		chunk, err := s.readLog(ctx, next, upTo, current)
		if err != nil {
			return next, err
		}
		for _, re := range chunk {
			for _, ev := range re.events {
				if !w.matches(ev) {
					continue
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return next, ctx.Err()
				case <-s.closing:
					return next, ErrClosed
				}
			}
		}
		next = upTo
	}
}

// readLog returns the events of the revisions in (after, upTo]. Every
// revision in that range must be in the log; a gap means it was compacted.
func (s *Store) readLog(ctx context.Context, after, upTo, current int64) ([]revEvents, error) {
	logIt, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: logKey(after + 1), UpperBound: logKey(upTo + 1)})
	if err != nil {
		return nil, fmt.Errorf("store: read change log: %w", err)
	}
	defer logIt.Close()
	verIt, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{prefixVersion}, UpperBound: []byte{prefixVersion + 1}})
	if err != nil {
		return nil, fmt.Errorf("store: read change log: %w", err)
	}
	defer verIt.Close()
	if err := s.checkReadRevision(after, current); err != nil {
		return nil, err
	}
	chunk := make([]revEvents, 0, upTo-after)
	expect := after + 1
	var seek []byte
	for valid := logIt.First(); valid; valid = logIt.Next() {
		rev, ok := logKeyRevision(logIt.Key())
		if !ok {
			return nil, fmt.Errorf("store: change log key %x: %w", logIt.Key(), errCorruptRecord)
		}
		if rev != expect {
			break
		}
		changes, err := decodeLogRecord(rev, logIt.Value())
		if err != nil {
			return nil, err
		}
		events := make([]Event, len(changes))
		for i, c := range changes {
			// A put's version is at rev; a delete's last value is the
			// newest version before rev.
			at := rev
			if c.typ == EventDelete {
				at = rev - 1
			}
			seek = versionKey(seek[:0], c.key, at)
			if !verIt.SeekGE(seek) || !bytes.HasPrefix(verIt.Key(), seek[:len(seek)-revisionLen]) {
				return nil, fmt.Errorf("store: revision %d: no version of %q for its change: %w", rev, c.key, errCorruptRecord)
			}
			_, vrev, _ := splitVersionKey(verIt.Key())
			rec, err := decodeVersionRecord(verIt.Value())
			if err != nil || rec.tombstone || (c.typ == EventPut && vrev != rev) {
				return nil, fmt.Errorf("store: revision %d: version of %q does not match its change: %w", rev, c.key, errCorruptRecord)
			}
			ev := Event{Type: c.typ, KV: KeyValue{Key: c.key, Value: bytes.Clone(rec.value), CreateRevision: rec.createRevision, ModRevision: rev}}
			if c.typ == EventPut {
				ev.KV.Version = rec.version
			}
			events[i] = ev
		}
		chunk = append(chunk, revEvents{rev: rev, events: events})
		expect++
	}
	if err := errors.Join(logIt.Error(), verIt.Error()); err != nil {
		return nil, fmt.Errorf("store: read change log: %w", err)
	}
	if expect != upTo+1 {
		// Only compaction removes log entries, and it raises compactRev
		// before it does.
		return nil, &CompactedError{Requested: after, CompactRevision: s.compactRev.Load(), CurrentRevision: current}
	}
	return chunk, nil
}

// revEvents are the events of one revision.
type revEvents struct {
	rev    int64
	events []Event
}

// watcher is one Watch's state shared with the hub.
type watcher struct {
	prefix []byte
	from   int64 // events at or before it are not delivered; raised on registration

	mu     sync.Mutex
	queue  []Event
	err    error         // set when the hub cuts the watcher off
	notify chan struct{} // capacity 1: "queue or err changed"

	// progressPending (guarded by the hub's mutex) is a progress request
	// made while the watcher was catching up; it is answered on joining.
	progressPending bool
}

func (w *watcher) matches(ev Event) bool {
	return ev.KV.ModRevision > w.from && bytes.HasPrefix(ev.KV.Key, w.prefix)
}

// enqueue adds the matching events of one revision, or reports that the
// watcher is over its limit.
func (w *watcher) enqueue(events []Event, limit int) bool {
	w.mu.Lock()
	added := false
	for _, ev := range events {
		if !w.matches(ev) {
			continue
		}
		if len(w.queue) >= limit {
			w.mu.Unlock()
			return false
		}
		w.queue = append(w.queue, ev)
		added = true
	}
	w.mu.Unlock()
	if added {
		w.signal()
	}
	return true
}

func (w *watcher) signal() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *watcher) cutOff(err error) {
	w.mu.Lock()
	w.err = err
	w.queue = nil
	w.mu.Unlock()
	w.signal()
}

// take returns the pending events, or the error that ended the watcher.
func (w *watcher) take() ([]Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return nil, w.err
	}
	q := w.queue
	w.queue = nil
	return q, nil
}

// hub fans published revisions out to registered watchers and keeps the
// most recent revisions in a ring, so a watcher can go from catching up on
// the log to live without a gap or a duplicate.
type hub struct {
	mu         sync.Mutex
	rev        int64       // newest published revision
	ring       []revEvents // the most recent revisions, oldest at ring[start]
	start      int
	watchers   map[*watcher]struct{}
	queueLimit int
	closedErr  error
}

func newHub(rev int64, ringSize, queueLimit int) *hub {
	return &hub{
		rev:        rev,
		ring:       make([]revEvents, 0, ringSize),
		watchers:   make(map[*watcher]struct{}),
		queueLimit: queueLimit,
	}
}

func (h *hub) publish(rev int64, events []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rev = rev
	if len(h.ring) < cap(h.ring) {
		h.ring = append(h.ring, revEvents{rev, events})
	} else {
		h.ring[h.start] = revEvents{rev, events}
		h.start = (h.start + 1) % len(h.ring)
	}
	for w := range h.watchers {
		if !w.enqueue(events, h.queueLimit) {
			delete(h.watchers, w)
			w.cutOff(ErrWatcherTooSlow)
		}
	}
}

// register adds w, which has seen every revision up to next, if the ring
// still holds every revision after next; otherwise w must catch up more.
func (h *hub) register(w *watcher, next int64) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closedErr != nil {
		return false, h.closedErr
	}
	// w has delivered everything up to next, possibly beyond h.rev (the
	// syncer makes a revision readable before it publishes it here): from
	// now on only later revisions are new to it.
	w.mu.Lock()
	w.from = max(w.from, next)
	w.mu.Unlock()
	if next < h.rev {
		n := len(h.ring)
		if n == 0 || h.ring[h.start].rev > next+1 {
			return false, nil
		}
		for i := 0; i < n; i++ {
			re := h.ring[(h.start+i)%n]
			if re.rev > next && !w.enqueue(re.events, h.queueLimit) {
				return false, ErrWatcherTooSlow
			}
		}
	}
	h.watchers[w] = struct{}{}
	if w.progressPending {
		w.progressPending = false
		h.enqueueProgress(w)
	}
	return true, nil
}

// requestProgress queues a progress event for w: every revision up to
// h.rev has already been queued for a registered watcher.
func (h *hub) requestProgress(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, live := h.watchers[w]; !live {
		w.progressPending = true
		return
	}
	h.enqueueProgress(w)
}

func (h *hub) enqueueProgress(w *watcher) {
	w.mu.Lock()
	w.queue = append(w.queue, Event{Type: EventProgress, KV: KeyValue{ModRevision: h.rev}})
	w.mu.Unlock()
	w.signal()
}

func (h *hub) unregister(w *watcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
}

func (h *hub) close(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closedErr = err
	for w := range h.watchers {
		w.cutOff(err)
	}
	clear(h.watchers)
}
