package apiserver

import (
	"context"
	"iter"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/store"
)

// A watch fan-out is one store watch whose events are translated once and
// queued to many Watch streams. Every kind has at most one shared fan-out,
// started by the first Watch of that kind and stopped when its last
// stream ends; a stream that starts further behind than the shared
// fan-out remembers gets a private one (the same code with one
// subscriber). See RATIONALE.md, "Why one watch fan-out per kind?".
//
//	store.Watch ──▶ run: splice once ──▶ subscriber queues ──▶ Watch handlers
//	                (fanoutEvent)         (bounded; full:      (filter, Send the
//	                                       cut off)             shared message)

const (
	// fanoutQueueLimit is how many events a stream may have waiting
	// before it is cut off (Unavailable: resume from the last revision it
	// got), as the store does with its own watchers.
	fanoutQueueLimit = 10_000
	// fanoutRingSize is how many recent events a shared fan-out keeps so
	// that a stream starting a little behind it (an informer that listed,
	// then watches from the list's revision) can still join.
	fanoutRingSize = 4096
)

// fanoutEvent is one store event, translated once for every stream.
type fanoutEvent struct {
	// progress marks a bookmark opportunity: every change up to rev has
	// been queued. The other fields are unset.
	progress bool
	rev      int64
	key      string
	deleted  bool
	version  int64
	kv       store.KeyValue // shared with the store: never modified
	k        *kindInfo

	// object is the event's Object on the wire (wire.go), or err.
	object []byte
	err    error

	msgOnce sync.Once
	msg     proto.Message // decoded, for selectors; read-only
	msgErr  error

	// sends holds the message sent to every stream, by event type.
	sends [3]struct {
		once sync.Once
		ev   *waskv1.WatchEvent
	}
}

// watch event types a change can have, indexing fanoutEvent.sends.
var changeTypes = [3]string{eventAdded, eventModified, eventDeleted}

func newFanoutEvent(k *kindInfo, ev store.Event) *fanoutEvent {
	e := &fanoutEvent{
		rev: ev.KV.ModRevision, key: string(ev.KV.Key), deleted: ev.Type == store.EventDelete,
		version: ev.KV.Version, kv: ev.KV, k: k,
	}
	e.object, e.err = k.appendObjectWire(nil, ev.KV.Value, ev.KV.ModRevision)
	return e
}

// natural is the event's type for a stream without selectors.
func (e *fanoutEvent) natural() string {
	switch {
	case e.deleted:
		return eventDeleted
	case e.version == 1:
		return eventAdded
	}
	return eventModified
}

// message returns the decoded object, shared by every stream: read only.
func (e *fanoutEvent) message() (proto.Message, error) {
	e.msgOnce.Do(func() { e.msg, e.msgErr = e.k.decodeKV(e.kv) })
	return e.msg, e.msgErr
}

// send returns the WatchEvent of type typ carrying the object, made once
// and then shared by every stream (it is never modified).
func (e *fanoutEvent) send(typ string) (*waskv1.WatchEvent, error) {
	if e.err != nil {
		return nil, e.err
	}
	i := 0
	for changeTypes[i] != typ {
		i++
	}
	s := &e.sends[i]
	s.once.Do(func() {
		wire := make([]byte, 0, len(typ)+len(e.object)+16)
		wire = protowire.AppendTag(wire, watchTypeField, protowire.BytesType)
		wire = protowire.AppendString(wire, typ)
		wire = protowire.AppendTag(wire, watchObjectField, protowire.BytesType)
		wire = protowire.AppendBytes(wire, e.object)
		s.ev = preEncoded(&waskv1.WatchEvent{}, wire)
	})
	return s.ev, nil
}

// fanoutSub is one stream's subscription.
type fanoutSub struct {
	conn   string // the connection the stream is on (the client's address)
	prefix string // the stream's namespace (or kind) prefix
	from   int64  // events at or before from are not for it
	limit  int    // how many events may wait in queue

	mu     sync.Mutex
	queue  []*fanoutEvent
	err    error         // why it was cut off
	notify chan struct{} // capacity 1: queue or err changed

	progressWanted bool // guarded by the fan-out's mu
}

// push queues e if it is for the subscriber; false means the queue is
// full (the caller cuts the subscriber off).
func (sub *fanoutSub) push(e *fanoutEvent) bool {
	if e.rev <= sub.from || !strings.HasPrefix(e.key, sub.prefix) {
		return true
	}
	sub.mu.Lock()
	if len(sub.queue) >= sub.limit {
		sub.mu.Unlock()
		return false
	}
	sub.queue = append(sub.queue, e)
	sub.mu.Unlock()
	sub.signal()
	return true
}

// pushProgress queues a bookmark opportunity (never refused: at most one
// is outstanding per request).
func (sub *fanoutSub) pushProgress(rev int64) {
	sub.mu.Lock()
	sub.queue = append(sub.queue, &fanoutEvent{progress: true, rev: rev})
	sub.mu.Unlock()
	sub.signal()
}

func (sub *fanoutSub) signal() {
	select {
	case sub.notify <- struct{}{}:
	default:
	}
}

func (sub *fanoutSub) cutOff(err error) {
	sub.mu.Lock()
	sub.err, sub.queue = err, nil
	sub.mu.Unlock()
	sub.signal()
}

// take returns the queued events, or why the subscriber was cut off. buf
// is reused for the result.
func (sub *fanoutSub) take(buf []*fanoutEvent) ([]*fanoutEvent, error) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.err != nil {
		return nil, sub.err
	}
	q := sub.queue
	sub.queue = buf[:0]
	return q, nil
}

// subscribers is a fan-out's subscribers grouped by connection, so that a
// change reaches the streams of one connection one after another: HTTP/2
// then tends to write their frames to the socket together, in fewer
// writes.
type subscribers struct {
	byConn map[string]map[*fanoutSub]struct{}
	n      int
}

func (ss *subscribers) add(sub *fanoutSub) {
	if ss.byConn == nil {
		ss.byConn = make(map[string]map[*fanoutSub]struct{})
	}
	c := ss.byConn[sub.conn]
	if c == nil {
		c = make(map[*fanoutSub]struct{})
		ss.byConn[sub.conn] = c
	}
	if _, ok := c[sub]; !ok {
		c[sub] = struct{}{}
		ss.n++
	}
}

func (ss *subscribers) remove(sub *fanoutSub) {
	c := ss.byConn[sub.conn]
	if _, ok := c[sub]; !ok {
		return
	}
	delete(c, sub)
	ss.n--
	if len(c) == 0 {
		delete(ss.byConn, sub.conn)
	}
}

// all yields every subscriber, connection by connection; the loop body may
// remove the subscriber it is given.
func (ss *subscribers) all() iter.Seq[*fanoutSub] {
	return func(yield func(*fanoutSub) bool) {
		for _, c := range ss.byConn {
			for sub := range c {
				if !yield(sub) {
					return
				}
			}
		}
	}
}

// watchFanout is one store watch fanned out to subscribers.
type watchFanout struct {
	k       *kindInfo
	private bool // made for one stream; not in Server.fanouts
	sw      *store.Watch
	cancel  context.CancelFunc
	done    chan struct{} // closed when run has returned

	mu   sync.Mutex
	subs subscribers
	// rev: every change up to rev has been queued to every subscriber.
	rev int64
	// ring holds the most recent events (oldest at ring[start]); it has
	// every event after covered.
	ring          []*fanoutEvent
	start         int
	covered       int64
	progressAsked bool  // a progress request to the store is outstanding
	err           error // why the store watch ended; no subscriber joins after
}

// startFanout starts a fan-out of the store's changes under prefix after
// revision from, with first as its first subscriber.
func (s *Server) startFanout(k *kindInfo, prefix string, from int64, private bool, first *fanoutSub) (*watchFanout, error) {
	ctx, cancel := context.WithCancel(context.Background())
	sw, err := s.st.Watch(ctx, []byte(prefix), from)
	if err != nil {
		cancel()
		return nil, translate(err, "watch "+k.plural)
	}
	f := &watchFanout{
		k: k, private: private, sw: sw, cancel: cancel, done: make(chan struct{}),
		rev: from, covered: from,
	}
	if !private {
		f.ring = make([]*fanoutEvent, 0, fanoutRingSize)
	}
	f.subs.add(first)
	go f.run(s)
	return f, nil
}

// subscribe returns a subscription to kind k's changes under prefix after
// revision from: on the kind's shared fan-out if it can serve from,
// otherwise on a private one.
func (s *Server) subscribe(k *kindInfo, conn, prefix string, from int64) (*watchFanout, *fanoutSub, error) {
	sub := &fanoutSub{conn: conn, prefix: prefix, from: from, limit: s.watchQueueLimit, notify: make(chan struct{}, 1)}
	s.fanoutMu.Lock()
	if f := s.fanouts[k]; f != nil {
		joined := f.join(sub)
		s.fanoutMu.Unlock()
		if joined {
			return f, sub, nil
		}
		f, err := s.startFanout(k, prefix, from, true, sub)
		return f, sub, err
	}
	defer s.fanoutMu.Unlock()
	f, err := s.startFanout(k, k.prefix(""), from, false, sub)
	if err != nil {
		return nil, nil, err
	}
	s.fanouts[k] = f
	return f, sub, nil
}

// join adds sub if every event after sub.from is still to come or in the
// ring.
func (f *watchFanout) join(sub *fanoutSub) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sub.from < f.rev {
		if sub.from < f.covered {
			return false
		}
		for i := range len(f.ring) {
			if !sub.push(f.ring[(f.start+i)%len(f.ring)]) {
				sub.cutOff(store.ErrWatcherTooSlow) // behind by more than its limit
				return true
			}
		}
	}
	f.subs.add(sub)
	return true
}

// unsubscribe removes sub; the fan-out stops with its last subscriber.
func (s *Server) unsubscribe(f *watchFanout, sub *fanoutSub) {
	s.fanoutMu.Lock()
	f.mu.Lock()
	f.subs.remove(sub)
	stop := f.subs.n == 0
	if stop && !f.private && s.fanouts[f.k] == f {
		delete(s.fanouts, f.k)
	}
	f.mu.Unlock()
	s.fanoutMu.Unlock()
	if stop {
		f.cancel()
		<-f.done
	}
}

// requestProgress asks for a bookmark opportunity for sub: once every
// change up to the store's current revision has been queued.
func (f *watchFanout) requestProgress(sub *fanoutSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sub.progressWanted = true
	if !f.progressAsked {
		f.progressAsked = true
		f.sw.RequestProgress()
	}
}

// run translates the store's events and queues them until the store watch
// ends, then cuts every subscriber off with the reason.
func (f *watchFanout) run(s *Server) {
	defer close(f.done)
	for ev := range f.sw.Events() {
		if ev.Type == store.EventProgress {
			f.progress(ev.KV.ModRevision)
			continue
		}
		f.publish(newFanoutEvent(f.k, ev))
	}
	err := f.sw.Err()
	if !f.private {
		s.fanoutMu.Lock()
		if s.fanouts[f.k] == f {
			delete(s.fanouts, f.k)
		}
		defer s.fanoutMu.Unlock()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
	for sub := range f.subs.all() {
		sub.cutOff(err)
	}
	f.subs = subscribers{}
}

func (f *watchFanout) publish(e *fanoutEvent) {
	e.send(e.natural()) // made here, once, rather than by the first stream
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev = e.rev
	if cap(f.ring) > 0 {
		if len(f.ring) < cap(f.ring) {
			f.ring = append(f.ring, e)
		} else {
			f.covered = f.ring[f.start].rev
			f.ring[f.start] = e
			f.start = (f.start + 1) % len(f.ring)
		}
	} else {
		f.covered = e.rev
	}
	for sub := range f.subs.all() {
		if !sub.push(e) {
			f.subs.remove(sub)
			sub.cutOff(store.ErrWatcherTooSlow)
		}
	}
}

// progress passes the store's answer to a progress request on to the
// subscribers that asked.
func (f *watchFanout) progress(rev int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev = max(f.rev, rev)
	f.progressAsked = false
	for sub := range f.subs.all() {
		if sub.progressWanted {
			sub.progressWanted = false
			sub.pushProgress(rev)
		}
	}
}
