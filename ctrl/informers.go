package ctrl

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// Informers hands out one shared informer per kind, so controllers that
// follow the same kind share one list+watch. Every informer it makes also
// keeps an index of objects by the uids of their owners.
//
// Ask for informers (For) and add handlers before Run.
type Informers struct {
	c   *client.Client
	log *slog.Logger

	mu      sync.Mutex
	kinds   map[string]*shared
	order   []string
	running bool
}

type shared struct {
	inf *client.Informer

	mu      sync.Mutex
	owned   map[string]map[string]struct{} // owner uid → keys of dependents
	owners  map[string][]string            // key → owner uids (to unindex)
	changed chan struct{}                  // closed and replaced on every change
}

// NewInformers returns an empty set of informers on c.
func NewInformers(c *client.Client, log *slog.Logger) *Informers {
	return &Informers{c: c, log: log, kinds: map[string]*shared{}}
}

// For returns the informer of kind (all namespaces), making it on first
// use.
func (f *Informers) For(kind string) *client.Informer {
	return f.shared(kind).inf
}

func (f *Informers) shared(kind string) *shared {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.kinds[kind]; ok {
		return s
	}
	if f.running {
		// It would never be run: a controller must ask for its informers
		// when it is built.
		panic(fmt.Sprintf("ctrl: informer for %q asked for after Informers.Run", kind))
	}
	inf, err := client.NewInformer(f.c, client.InformerOptions{Kind: kind, Logger: f.log})
	if err != nil {
		panic(fmt.Sprintf("ctrl: informer for %q: %v", kind, err)) // kinds are constants in the controllers
	}
	s := &shared{inf: inf, owned: map[string]map[string]struct{}{}, owners: map[string][]string{}, changed: make(chan struct{})}
	// The owner index changes under the informer's lock, with its cache:
	// a controller that finds a pod by name also finds it among its
	// owner's dependents (a handler would update the index a moment late,
	// and a ReplicaSet would count one pod short and create one too many).
	inf.AddIndexer(func(old, cur *waskv1.Object) {
		if cur != nil {
			s.index(cur, false)
		} else {
			s.index(old, true)
		}
	})
	f.kinds[kind] = s
	f.order = append(f.order, kind)
	return s
}

func (s *shared) index(o *waskv1.Object, deleted bool) {
	key := client.Key(o)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, uid := range s.owners[key] {
		delete(s.owned[uid], key)
		if len(s.owned[uid]) == 0 {
			delete(s.owned, uid)
		}
	}
	delete(s.owners, key)
	if !deleted {
		var uids []string
		for _, ref := range o.Metadata().GetOwnerReferences() {
			if ref.GetUid() == "" {
				continue
			}
			if s.owned[ref.GetUid()] == nil {
				s.owned[ref.GetUid()] = map[string]struct{}{}
			}
			s.owned[ref.GetUid()][key] = struct{}{}
			uids = append(uids, ref.GetUid())
		}
		if len(uids) > 0 {
			s.owners[key] = uids
		}
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Kinds returns the kinds informers were made for, in order of first use.
func (f *Informers) Kinds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

// Dependents returns the cached objects of kind that name ownerUID in
// their owner references (controller or not). Do not modify them.
func (f *Informers) Dependents(kind, ownerUID string) []*waskv1.Object {
	s := f.shared(kind)
	s.mu.Lock()
	keys := make([]string, 0, len(s.owned[ownerUID]))
	for k := range s.owned[ownerUID] {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	out := make([]*waskv1.Object, 0, len(keys))
	for _, k := range keys {
		ns, name := SplitKey(k)
		if o, ok := s.inf.Get(ns, name); ok {
			out = append(out, o)
		}
	}
	return out
}

// Run runs every informer until ctx ends and returns after they all have.
func (f *Informers) Run(ctx context.Context) error {
	f.mu.Lock()
	f.running = true
	all := make([]*shared, 0, len(f.kinds))
	for _, k := range f.order {
		all = append(all, f.kinds[k])
	}
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Go(func() { _ = s.inf.Run(ctx) })
	}
	wg.Wait()
	return nil
}

// WaitForSync blocks until every informer has delivered its first list.
func (f *Informers) WaitForSync(ctx context.Context) error {
	for _, k := range f.Kinds() {
		if err := f.For(k).WaitForSync(ctx); err != nil {
			return fmt.Errorf("ctrl: wait for the %s informer to sync: %w", k, err)
		}
	}
	return nil
}

// WaitForRevision blocks until the informer of kind has seen every change
// up to rev (a metadata.revision the caller wrote), so a reconcile that
// follows reads its own writes. An empty rev returns at once.
func (f *Informers) WaitForRevision(ctx context.Context, kind, rev string) error {
	want, err := strconv.ParseInt(rev, 10, 64)
	if rev == "" || err != nil {
		return nil
	}
	s := f.shared(kind)
	t := time.NewTicker(50 * time.Millisecond) // bookmarks advance the revision without a handler call
	defer t.Stop()
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if got, _ := strconv.ParseInt(s.inf.Revision(), 10, 64); got >= want {
			return nil
		}
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("ctrl: wait for the %s informer to reach revision %s: %w", kind, rev, ctx.Err())
		}
	}
}

// SplitKey splits a cache key into namespace and name.
func SplitKey(key string) (namespace, name string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}

// Key returns the cache key of a namespace and name.
func Key(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
