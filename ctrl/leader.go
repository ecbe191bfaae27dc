package ctrl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// ElectorConfig configures leader election through a Lease.
type ElectorConfig struct {
	// Client reaches the cluster. Required.
	Client *client.Client
	// Identity names this candidate; unique among candidates. Required.
	Identity string
	// Namespace and Name of the Lease. Defaults: "wask-system",
	// "wask-controller-manager". The namespace is created if missing.
	Namespace, Name string
	// LeaseDuration is how long a renewal holds: a candidate takes the
	// lease over once it has seen no renewal for this long. Whole seconds
	// (the Lease stores seconds), at least 1 s. Default 5 s.
	LeaseDuration time.Duration
	// RenewDeadline: a leader that could not renew for this long steps
	// down. Must be less than LeaseDuration. Default 3 s.
	RenewDeadline time.Duration
	// RetryPeriod is the time between attempts to acquire or renew.
	// Default 500 ms.
	RetryPeriod time.Duration
	// KeepOnStop leaves the lease held when Run ends (as a crash would),
	// instead of releasing it so another candidate takes over at once.
	KeepOnStop bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger. Default: discard.
	Logger *slog.Logger
}

// Elector runs a function while it holds the lease.
//
//	           acquired                    renew failed for RenewDeadline
//	candidate ─────────▶ leader (lead runs) ─────────────────────────────▶ candidate
//	    ▲                    │ ctx ends: lead stops, lease released
//	    └── lease held by another and renewed within LeaseDuration
type Elector struct {
	cfg     ElectorConfig
	leading atomic.Bool

	// observed: the lease revision last seen and when (by our clock), so
	// expiry is judged by our clock alone, whatever the holder's says.
	observedRev string
	observedAt  time.Time
}

// NewElector checks cfg and fills its defaults.
func NewElector(cfg ElectorConfig) (*Elector, error) {
	if cfg.Client == nil {
		return nil, errors.New("ctrl: elector: Client: required")
	}
	if cfg.Identity == "" {
		return nil, errors.New("ctrl: elector: Identity: required")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "wask-system"
	}
	if cfg.Name == "" {
		cfg.Name = "wask-controller-manager"
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = 5 * time.Second
	}
	if cfg.RenewDeadline == 0 {
		cfg.RenewDeadline = 3 * time.Second
	}
	if cfg.RetryPeriod == 0 {
		cfg.RetryPeriod = 500 * time.Millisecond
	}
	if cfg.LeaseDuration < time.Second || cfg.LeaseDuration%time.Second != 0 {
		return nil, fmt.Errorf("ctrl: elector: LeaseDuration %v: must be whole seconds, at least 1s", cfg.LeaseDuration)
	}
	if cfg.RenewDeadline >= cfg.LeaseDuration {
		return nil, fmt.Errorf("ctrl: elector: RenewDeadline %v: must be less than LeaseDuration %v", cfg.RenewDeadline, cfg.LeaseDuration)
	}
	if cfg.RetryPeriod <= 0 || cfg.RetryPeriod >= cfg.RenewDeadline {
		return nil, fmt.Errorf("ctrl: elector: RetryPeriod %v: must be positive and less than RenewDeadline %v", cfg.RetryPeriod, cfg.RenewDeadline)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Elector{cfg: cfg}, nil
}

// IsLeader reports whether this candidate holds the lease now.
func (e *Elector) IsLeader() bool { return e.leading.Load() }

// Run campaigns until ctx ends. Each time it wins, it calls lead with a
// context that ends when leadership is lost (or ctx ends) and waits for
// lead to return before campaigning again. It returns nil when ctx ends,
// after lead has returned and the lease has been released.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context)) error {
	t := time.NewTicker(e.cfg.RetryPeriod)
	defer t.Stop()
	for ctx.Err() == nil {
		ok, err := e.tryAcquireOrRenew(ctx)
		if err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("leader election: could not read or write the lease", "err", err)
		}
		if ok {
			e.cfg.Logger.Info("leader election: leading", "identity", e.cfg.Identity)
			e.lead(ctx, t, lead)
			if ctx.Err() == nil {
				e.cfg.Logger.Warn("leader election: lost the lease; stopped leading", "identity", e.cfg.Identity)
			}
			continue
		}
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	if !e.cfg.KeepOnStop {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.RenewDeadline)
		defer cancel()
		if err := e.release(rctx); err != nil {
			e.cfg.Logger.Warn("leader election: could not release the lease", "err", err)
		}
	}
	return nil
}

// lead runs lead while renewing; it returns when renewals failed for
// RenewDeadline or ctx ended, after lead has returned.
func (e *Elector) lead(ctx context.Context, t *time.Ticker, lead func(context.Context)) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.leading.Store(true)
	defer e.leading.Store(false)
	var wg sync.WaitGroup
	wg.Go(func() { lead(lctx) })
	defer wg.Wait()
	lastRenew := e.cfg.Now()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			cancel()
			return
		}
		actx, acancel := context.WithTimeout(ctx, e.cfg.RenewDeadline)
		ok, err := e.tryAcquireOrRenew(actx)
		acancel()
		if ok {
			lastRenew = e.cfg.Now()
			continue
		}
		if err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("leader election: renew failed", "err", err)
		}
		if err == nil || e.cfg.Now().Sub(lastRenew) >= e.cfg.RenewDeadline {
			cancel() // another holds it, or we could not renew in time
			e.leading.Store(false)
			return
		}
	}
}

// tryAcquireOrRenew takes or renews the lease if it is free, ours, or
// expired; it reports whether we hold it now.
func (e *Elector) tryAcquireOrRenew(ctx context.Context) (bool, error) {
	now := e.cfg.Now()
	spec := &waskv1.LeaseSpec{
		HolderIdentity:       e.cfg.Identity,
		LeaseDurationSeconds: int32(e.cfg.LeaseDuration / time.Second),
		AcquireTime:          timestamppb.New(now),
		RenewTime:            timestamppb.New(now),
	}
	cur, err := client.Get[*waskv1.Lease](ctx, e.cfg.Client, e.cfg.Namespace, e.cfg.Name)
	if connect.CodeOf(err) == connect.CodeNotFound {
		if err := e.ensureNamespace(ctx); err != nil {
			return false, err
		}
		got, err := client.Create(ctx, e.cfg.Client, &waskv1.Lease{
			Metadata: &waskv1.ObjectMeta{Name: e.cfg.Name, Namespace: e.cfg.Namespace}, Spec: spec,
		})
		if connect.CodeOf(err) == connect.CodeAlreadyExists {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("create lease %s/%s: %w", e.cfg.Namespace, e.cfg.Name, err)
		}
		e.observe(got, now)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("get lease %s/%s: %w", e.cfg.Namespace, e.cfg.Name, err)
	}
	e.observe(cur, now)
	holder := cur.GetSpec().GetHolderIdentity()
	held := time.Duration(cur.GetSpec().GetLeaseDurationSeconds()) * time.Second
	if holder != "" && holder != e.cfg.Identity && now.Sub(e.observedAt) < held {
		return false, nil
	}
	next := proto.CloneOf(cur)
	if holder == e.cfg.Identity {
		spec.AcquireTime = cur.GetSpec().GetAcquireTime()
		spec.LeaseTransitions = cur.GetSpec().GetLeaseTransitions()
	} else {
		spec.LeaseTransitions = cur.GetSpec().GetLeaseTransitions() + 1
	}
	next.Spec = spec
	got, err := client.Update(ctx, e.cfg.Client, next)
	if connect.CodeOf(err) == connect.CodeAborted {
		return false, nil // someone else wrote it first
	}
	if err != nil {
		return false, fmt.Errorf("update lease %s/%s: %w", e.cfg.Namespace, e.cfg.Name, err)
	}
	e.observe(got, now)
	return true, nil
}

func (e *Elector) observe(l *waskv1.Lease, now time.Time) {
	if rev := l.GetMetadata().GetRevision(); rev != e.observedRev {
		e.observedRev, e.observedAt = rev, now
	}
}

func (e *Elector) ensureNamespace(ctx context.Context) error {
	_, err := client.Create(ctx, e.cfg.Client, &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: e.cfg.Namespace}})
	if IgnoreExists(err) != nil {
		return fmt.Errorf("create namespace %s: %w", e.cfg.Namespace, err)
	}
	return nil
}

// release gives the lease up if we hold it, so another candidate need not
// wait for it to expire.
func (e *Elector) release(ctx context.Context) error {
	cur, err := client.Get[*waskv1.Lease](ctx, e.cfg.Client, e.cfg.Namespace, e.cfg.Name)
	if err != nil {
		return IgnoreNotFound(err)
	}
	if cur.GetSpec().GetHolderIdentity() != e.cfg.Identity {
		return nil
	}
	next := proto.CloneOf(cur)
	next.Spec.HolderIdentity = ""
	next.Spec.RenewTime = timestamppb.New(e.cfg.Now())
	if _, err := client.Update(ctx, e.cfg.Client, next); err != nil && connect.CodeOf(err) != connect.CodeAborted {
		return fmt.Errorf("release lease %s/%s: %w", e.cfg.Namespace, e.cfg.Name, err)
	}
	return nil
}
