package client

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// Handler receives an informer's changes. Any field may be nil. Handlers
// are called one at a time, from the informer's goroutine, in revision
// order; they should be quick (typically: enqueue a key). The objects are
// the informer's cache: never modify them — clone first.
type Handler struct {
	OnAdd    func(obj *waskv1.Object)
	OnUpdate func(old, obj *waskv1.Object)
	OnDelete func(obj *waskv1.Object)
}

// InformerOptions select what an Informer follows.
type InformerOptions struct {
	Kind          string // required: "Pod", ...
	Namespace     string // empty: all namespaces
	LabelSelector string
	FieldSelector string
	// ResyncPeriod, if positive, re-delivers every cached object to
	// OnUpdate(obj, obj) this often, so level-based controllers re-check
	// state that changed outside the API.
	ResyncPeriod time.Duration
	// Logger gets the informer's errors. Default: slog.Default().
	Logger *slog.Logger
}

// Informer keeps an up-to-date cache of the objects of one kind: it lists
// them, then watches from the list's revision; if the watch breaks it
// resumes from the last revision it saw, and if that revision has been
// compacted it lists again and delivers the difference.
type Informer struct {
	c    *Client
	opts InformerOptions
	kind waskv1.KindInfo

	mu       sync.RWMutex
	items    map[string]*waskv1.Object // by Key
	revision string                    // last revision seen
	handlers []Handler
	indexers []func(old, cur *waskv1.Object)

	syncOnce sync.Once
	synced   chan struct{}
}

// NewInformer returns an informer; add handlers, then Run it.
func NewInformer(c *Client, opts InformerOptions) (*Informer, error) {
	k, ok := waskv1.LookupKind(opts.Kind)
	if !ok {
		return nil, fmt.Errorf("client: informer: unknown kind %q", opts.Kind)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Informer{c: c, opts: opts, kind: k, items: map[string]*waskv1.Object{}, synced: make(chan struct{})}, nil
}

// Key returns the cache key of an object: "namespace/name", or "name" for
// cluster-scoped kinds.
func Key(o *waskv1.Object) string {
	md := o.Metadata()
	if md.GetNamespace() == "" {
		return md.GetName()
	}
	return md.GetNamespace() + "/" + md.GetName()
}

// AddHandler registers h. Call it before Run.
func (inf *Informer) AddHandler(h Handler) {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	inf.handlers = append(inf.handlers, h)
}

// AddIndexer registers f, which the informer calls at every change of its
// cache while it holds the cache's lock — old is nil for an addition, cur
// nil for a deletion — so an index f keeps is never behind what Get and
// List return (handlers run after the lock is released, and so may be).
// f must be quick and must not call the informer. Call it before Run.
func (inf *Informer) AddIndexer(f func(old, cur *waskv1.Object)) {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	inf.indexers = append(inf.indexers, f)
}

// HasSynced reports whether the first list has been delivered.
func (inf *Informer) HasSynced() bool {
	select {
	case <-inf.synced:
		return true
	default:
		return false
	}
}

// WaitForSync blocks until the first list has been delivered or ctx ends.
func (inf *Informer) WaitForSync(ctx context.Context) error {
	select {
	case <-inf.synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Get returns the cached object by namespace and name (namespace empty for
// cluster-scoped kinds). Do not modify it.
func (inf *Informer) Get(namespace, name string) (*waskv1.Object, bool) {
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	o, ok := inf.items[key]
	return o, ok
}

// List returns the cached objects sorted by key. Do not modify them.
func (inf *Informer) List() []*waskv1.Object {
	inf.mu.RLock()
	out := make([]*waskv1.Object, 0, len(inf.items))
	for _, o := range inf.items {
		out = append(out, o)
	}
	inf.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return Key(out[i]) < Key(out[j]) })
	return out
}

// Revision returns the last revision the informer has seen.
func (inf *Informer) Revision() string {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	return inf.revision
}

// Run lists and watches until ctx ends; it then returns nil, after every
// goroutine it started has ended. Errors are logged and retried with
// back-off.
func (inf *Informer) Run(ctx context.Context) error {
	needList := true
	failures := 0
	for ctx.Err() == nil {
		var err error
		if needList {
			if err = inf.relist(ctx); err == nil {
				needList = false
				failures = 0
			}
		}
		if err == nil {
			err = inf.watch(ctx)
			if connect.CodeOf(err) == connect.CodeOutOfRange {
				inf.opts.Logger.Info("informer: watch revision compacted, listing again", "kind", inf.kind.Kind)
				needList = true
				continue
			}
		}
		if ctx.Err() != nil {
			break
		}
		inf.opts.Logger.Warn("informer: list/watch failed, retrying", "kind", inf.kind.Kind, "err", err)
		select {
		case <-time.After(backoff(100*time.Millisecond, 5*time.Second, failures)):
		case <-ctx.Done():
		}
		failures++
	}
	return nil
}

// relist replaces the cache with a fresh list and delivers the difference.
func (inf *Informer) relist(ctx context.Context) error {
	objs, rev, err := listObjects(ctx, inf.c, inf.kind.Kind, ListOptions{
		Namespace: inf.opts.Namespace, LabelSelector: inf.opts.LabelSelector, FieldSelector: inf.opts.FieldSelector,
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", inf.kind.Plural, err)
	}
	fresh := make(map[string]*waskv1.Object, len(objs))
	for _, o := range objs {
		fresh[Key(o)] = o
	}
	inf.mu.Lock()
	old := inf.items
	inf.items = fresh
	inf.revision = rev
	handlers := inf.handlers
	for _, ix := range inf.indexers {
		for key, o := range old {
			if _, ok := fresh[key]; !ok {
				ix(o, nil)
			}
		}
		for key, o := range fresh {
			ix(old[key], o)
		}
	}
	inf.mu.Unlock()

	for key, o := range old {
		if _, ok := fresh[key]; !ok {
			for _, h := range handlers {
				if h.OnDelete != nil {
					h.OnDelete(o)
				}
			}
		}
	}
	for _, o := range objs {
		prev, existed := old[Key(o)]
		for _, h := range handlers {
			switch {
			case !existed && h.OnAdd != nil:
				h.OnAdd(o)
			case existed && h.OnUpdate != nil && !proto.Equal(prev, o):
				h.OnUpdate(prev, o)
			}
		}
	}
	inf.syncOnce.Do(func() { close(inf.synced) })
	return nil
}

// watch follows changes from the cache's revision until the stream fails
// or ctx ends.
func (inf *Informer) watch(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := inf.c.Objects.Watch(wctx, connect.NewRequest(&waskv1.WatchRequest{
		Kind:           inf.kind.Kind,
		Namespace:      inf.opts.Namespace,
		LabelSelector:  inf.opts.LabelSelector,
		FieldSelector:  inf.opts.FieldSelector,
		Revision:       inf.Revision(),
		AllowBookmarks: true,
	}))
	if err != nil {
		return err
	}
	events := make(chan *waskv1.WatchEvent)
	received := make(chan error, 1)
	go func() {
		defer close(events)
		for stream.Receive() {
			select {
			case events <- stream.Msg():
			case <-wctx.Done():
				received <- wctx.Err()
				return
			}
		}
		received <- stream.Err()
	}()
	defer func() {
		cancel()
		for range events { // let the receiver end
		}
		stream.Close()
	}()

	var resync <-chan time.Time
	if inf.opts.ResyncPeriod > 0 {
		t := time.NewTicker(inf.opts.ResyncPeriod)
		defer t.Stop()
		resync = t.C
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				err := <-received
				if err == nil {
					err = fmt.Errorf("watch %s: stream ended", inf.kind.Plural)
				}
				return err
			}
			if err := inf.apply(ev); err != nil {
				return err
			}
		case <-resync:
			inf.resync()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (inf *Informer) apply(ev *waskv1.WatchEvent) error {
	o := ev.GetObject()
	rev := o.Metadata().GetRevision()
	inf.mu.Lock()
	if rev != "" {
		inf.revision = rev
	}
	if ev.GetType() == "BOOKMARK" {
		inf.mu.Unlock()
		return nil
	}
	if o.Unwrap() == nil {
		inf.mu.Unlock()
		return fmt.Errorf("watch %s: %s event without an object", inf.kind.Plural, ev.GetType())
	}
	key := Key(o)
	old, existed := inf.items[key]
	cur := o
	switch ev.GetType() {
	case "ADDED", "MODIFIED":
		inf.items[key] = o
	case "DELETED":
		delete(inf.items, key)
		cur = nil
	default:
		inf.mu.Unlock()
		return fmt.Errorf("watch %s: unknown event type %q", inf.kind.Plural, ev.GetType())
	}
	for _, ix := range inf.indexers {
		ix(old, cur)
	}
	handlers := inf.handlers
	inf.mu.Unlock()
	for _, h := range handlers {
		switch {
		case ev.GetType() == "DELETED":
			if h.OnDelete != nil {
				h.OnDelete(o)
			}
		case existed:
			if h.OnUpdate != nil {
				h.OnUpdate(old, o)
			}
		default:
			if h.OnAdd != nil {
				h.OnAdd(o)
			}
		}
	}
	return nil
}

func (inf *Informer) resync() {
	objs := inf.List()
	inf.mu.RLock()
	handlers := inf.handlers
	inf.mu.RUnlock()
	for _, o := range objs {
		for _, h := range handlers {
			if h.OnUpdate != nil {
				h.OnUpdate(o, o)
			}
		}
	}
}
