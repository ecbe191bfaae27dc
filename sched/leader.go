package sched

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// LeaderElection makes schedulers that share a Lease take turns: only the
// holder schedules, so two schedulers never count the same free room
// twice. The others keep their caches warm and take over when the holder
// stops renewing.
//
//	          acquire (create, or update of an expired lease at its revision)
//	follower ─────────────────────────────────────────────────────────▶ leader
//	    ▲                                                                 │
//	    └──────── renewal failed for RenewDeadline, or ctx ended ◀────────┘
type LeaderElection struct {
	// Namespace and Name of the Lease. Defaults "default" and
	// "wask-scheduler".
	Namespace, Name string
	// Identity of this scheduler in the Lease; required, unique per
	// scheduler (e.g. host name and process id).
	Identity string
	// LeaseDuration is how long a lease holds without renewal, measured on
	// this scheduler's clock from when it saw the last change. Default 15s.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps trying to renew before it
	// stops scheduling. Default 10s (less than LeaseDuration).
	RenewDeadline time.Duration
	// RetryPeriod is the time between attempts to acquire or renew.
	// Default 2s.
	RetryPeriod time.Duration
}

func (le *LeaderElection) withDefaults() (LeaderElection, error) {
	l := *le
	if l.Namespace == "" {
		l.Namespace = "default"
	}
	if l.Name == "" {
		l.Name = "wask-scheduler"
	}
	if l.Identity == "" {
		return l, fmt.Errorf("scheduler: LeaderElection.Identity: required")
	}
	if l.LeaseDuration <= 0 {
		l.LeaseDuration = 15 * time.Second
	}
	if l.RenewDeadline <= 0 {
		l.RenewDeadline = 10 * time.Second
	}
	if l.RetryPeriod <= 0 {
		l.RetryPeriod = 2 * time.Second
	}
	if l.RenewDeadline >= l.LeaseDuration {
		return l, fmt.Errorf("scheduler: LeaderElection.RenewDeadline (%s) must be less than LeaseDuration (%s)", l.RenewDeadline, l.LeaseDuration)
	}
	return l, nil
}

// elector runs one LeaderElection.
type elector struct {
	le  LeaderElection
	c   *client.Client
	now func() time.Time

	seenRev   string    // the lease revision last seen
	seenAt    time.Time // when it was first seen, on our clock
	leading   bool
	renewedAt time.Time
}

// lead blocks until this scheduler holds the lease (true) or ctx ends
// (false).
func (e *elector) lead(ctx context.Context) bool {
	for {
		if e.try(ctx) {
			return true
		}
		select {
		case <-time.After(e.le.RetryPeriod):
		case <-ctx.Done():
			return false
		}
	}
}

// hold renews the lease until ctx ends or a renewal has not succeeded for
// RenewDeadline; it then returns, and the caller stops scheduling.
func (e *elector) hold(ctx context.Context) {
	for {
		select {
		case <-time.After(e.le.RetryPeriod):
		case <-ctx.Done():
			return
		}
		if e.try(ctx) {
			continue
		}
		if e.now().Sub(e.renewedAt) >= e.le.RenewDeadline || !e.leading {
			e.leading = false
			return
		}
	}
}

// try acquires or renews the lease once.
func (e *elector) try(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, e.le.RetryPeriod)
	defer cancel()
	now := e.now()
	l, err := client.Get[*waskv1.Lease](ctx, e.c, e.le.Namespace, e.le.Name)
	if connect.CodeOf(err) == connect.CodeNotFound {
		_, err = client.Create(ctx, e.c, &waskv1.Lease{
			Metadata: &waskv1.ObjectMeta{Namespace: e.le.Namespace, Name: e.le.Name},
			Spec: &waskv1.LeaseSpec{
				HolderIdentity: e.le.Identity, LeaseDurationSeconds: int32(e.le.LeaseDuration / time.Second),
				AcquireTime: timestamppb.New(now), RenewTime: timestamppb.New(now),
			},
		})
		return e.acquired(err, now)
	}
	if err != nil {
		return false
	}
	if rev := l.GetMetadata().GetRevision(); rev != e.seenRev {
		e.seenRev, e.seenAt = rev, now
	}
	spec := l.GetSpec()
	mine := spec.GetHolderIdentity() == e.le.Identity
	expired := spec.GetHolderIdentity() == "" || now.Sub(e.seenAt) >= e.le.LeaseDuration
	if !mine && !expired {
		e.leading = false
		return false
	}
	if !mine {
		spec.HolderIdentity = e.le.Identity
		spec.AcquireTime = timestamppb.New(now)
		spec.LeaseTransitions++
	}
	spec.LeaseDurationSeconds = int32(e.le.LeaseDuration / time.Second)
	spec.RenewTime = timestamppb.New(now)
	_, err = client.Update(ctx, e.c, l) // conditional on the revision read
	return e.acquired(err, now)
}

func (e *elector) acquired(err error, now time.Time) bool {
	if err != nil {
		return false
	}
	e.leading, e.renewedAt = true, now
	return true
}

// release gives the lease up so that another scheduler need not wait for
// it to expire.
func (e *elector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), e.le.RetryPeriod)
	defer cancel()
	l, err := client.Get[*waskv1.Lease](ctx, e.c, e.le.Namespace, e.le.Name)
	if err != nil || l.GetSpec().GetHolderIdentity() != e.le.Identity {
		return
	}
	l.Spec.HolderIdentity = ""
	client.Update(ctx, e.c, l)
}
