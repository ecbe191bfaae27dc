package apiserver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/store"
)

// Watch event types.
const (
	eventAdded    = "ADDED"
	eventModified = "MODIFIED"
	eventDeleted  = "DELETED"
	eventBookmark = "BOOKMARK"
)

// Watch streams the changes to one kind's objects; see ObjectService.Watch.
//
// Selectors: a watch with a label or field selector keeps the set of keys
// that currently match (seeded by a list at the start revision), so an
// object that starts matching is sent as ADDED and one that stops matching
// as DELETED (carrying its new state).
//
// Bookmarks: every bookmark interval the watch asks the store for progress;
// the store answers, after every change up to revision r, that r is
// complete, and a BOOKMARK carries r when it is newer than anything sent.
func (s *Server) Watch(ctx context.Context, req *connect.Request[waskv1.WatchRequest], stream *connect.ServerStream[waskv1.WatchEvent]) error {
	r := req.Msg
	k, err := kindArg(r.GetKind())
	if err != nil {
		return err
	}
	ns := r.GetNamespace()
	if !k.namespaced {
		ns = ""
	} else if ns != "" {
		if why := checkDNSLabel(ns); why != "" {
			return invalidArgument("namespace: %s", why)
		}
	}
	f, err := parseFilter(k, r.GetLabelSelector(), r.GetFieldSelector())
	if err != nil {
		return err
	}
	from := s.st.Revision()
	if r.GetRevision() != "" {
		if from, err = parseRevision(r.GetRevision(), "revision"); err != nil {
			return err
		}
		if cur := s.st.Revision(); from > cur {
			return invalidArgument("revision: %d is in the future (current revision %d)", from, cur)
		}
	}
	w := &watchStream{
		server: s, kind: k, prefix: k.prefix(ns), filter: f, stream: stream,
		sent: from,
	}
	if c := s.st.CompactRevision(); from < c {
		return compactedError(from, c)
	}
	if !f.empty() {
		if err := w.seed(ctx, from); err != nil {
			return err
		}
	}
	fan, sub, err := s.subscribe(k, req.Peer().Addr, w.prefix, from)
	if err != nil {
		return err
	}
	defer s.unsubscribe(fan, sub)
	// Send the response headers now: a client's Watch call returns when
	// they arrive, and then the watch is established (so "from now" means
	// from before the call returned).
	if err := stream.Send(nil); err != nil {
		return err
	}
	// The stream waits on its subscription's channel alone: a select over
	// it, a ticker and ctx costs several times a plain receive, paid per
	// event per stream. ctx and the bookmark timer signal it instead.
	defer context.AfterFunc(ctx, sub.signal)()
	var bookmarks *bookmarkTimer
	if r.GetAllowBookmarks() {
		bookmarks = startBookmarkTimer(s.bookmarkInterval, sub.signal)
		defer bookmarks.stop()
	}
	var buf []*fanoutEvent
	for {
		<-sub.notify
		if ctx.Err() != nil {
			return nil // the client went away
		}
		if bookmarks != nil && bookmarks.due.Swap(false) {
			fan.requestProgress(sub)
		}
		events, err := sub.take(buf)
		if err != nil {
			return translate(err, "watch "+k.plural)
		}
		for i, e := range events {
			if err := w.handle(e); err != nil {
				return err
			}
			events[i] = nil // let the event go
		}
		buf = events
	}
}

// bookmarkTimer marks a bookmark due every interval and wakes the stream.
type bookmarkTimer struct {
	due      atomic.Bool
	mu       sync.Mutex
	t        *time.Timer
	stopped  bool
	interval time.Duration
	wake     func()
}

func startBookmarkTimer(interval time.Duration, wake func()) *bookmarkTimer {
	b := &bookmarkTimer{interval: interval, wake: wake}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.t = time.AfterFunc(interval, b.fire)
	return b
}

func (b *bookmarkTimer) fire() {
	b.due.Store(true)
	b.wake()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.stopped {
		b.t.Reset(b.interval)
	}
}

func (b *bookmarkTimer) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	b.t.Stop()
}

// watchStream is the state of one Watch call.
type watchStream struct {
	server *Server
	kind   *kindInfo
	prefix string
	filter filter
	stream *connect.ServerStream[waskv1.WatchEvent]
	// matching holds the keys whose objects match the filter (only used
	// with a non-empty filter).
	matching map[string]bool
	// sent is the revision of the last event or bookmark sent.
	sent int64
}

// seed records which objects matched the filter at revision rev.
func (w *watchStream) seed(ctx context.Context, rev int64) error {
	w.matching = make(map[string]bool)
	if rev == 0 {
		return nil // nothing was written before revision 1
	}
	opts := store.ListOptions{Prefix: []byte(w.prefix), Revision: rev, Limit: listChunk}
	for {
		page, err := w.server.st.List(ctx, opts)
		if err != nil {
			return translate(err, "watch "+w.kind.plural+": read the state at the start revision")
		}
		for _, kv := range page.KVs {
			m, err := w.kind.decodeKV(kv)
			if err != nil {
				return translate(err, "watch "+w.kind.plural)
			}
			if w.filter.matches(w.kind, m) {
				w.matching[string(kv.Key)] = true
			}
			opts.After = kv.Key
		}
		if !page.More {
			return nil
		}
	}
}

// handle sends one event of the fan-out if the client must see it.
func (w *watchStream) handle(e *fanoutEvent) error {
	if e.progress {
		return w.bookmark(e.rev)
	}
	typ := e.natural()
	if w.matching != nil {
		var m proto.Message // a deletion's type does not depend on it
		if !e.deleted {
			var err error
			if m, err = e.message(); err != nil {
				return translate(err, "watch "+w.kind.plural)
			}
		}
		if typ = w.eventType(e, m); typ == "" {
			return nil
		}
	}
	ev, err := e.send(typ)
	if err != nil {
		return translate(err, "watch "+w.kind.plural)
	}
	if err := w.stream.Send(ev); err != nil {
		return err
	}
	w.sent = e.rev
	return nil
}

// eventType returns the type of the event a client with a selector sees,
// or "" if the change is outside its selection.
func (w *watchStream) eventType(e *fanoutEvent, m proto.Message) string {
	was := w.matching[e.key]
	if e.deleted {
		delete(w.matching, e.key)
		if was {
			return eventDeleted
		}
		return ""
	}
	now := w.filter.matches(w.kind, m)
	if now {
		w.matching[e.key] = true
	} else {
		delete(w.matching, e.key)
	}
	switch {
	case now && was:
		return eventModified
	case now:
		return eventAdded
	case was:
		return eventDeleted
	}
	return ""
}

// bookmark sends a BOOKMARK at rev, up to which every change has been
// delivered, if it is newer than anything sent.
func (w *watchStream) bookmark(rev int64) error {
	if rev <= w.sent {
		return nil
	}
	m := w.kind.newMessage()
	w.kind.setTypeMeta(m)
	w.kind.meta(m).Revision = formatRevision(rev)
	if err := w.stream.Send(&waskv1.WatchEvent{Type: eventBookmark, Object: w.kind.wrap(m)}); err != nil {
		return err
	}
	w.sent = rev
	return nil
}
