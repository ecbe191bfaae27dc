package ctrl

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// Recorder writes Events. Repeats of one event (same object, reason and
// reporter) fold into one Event under a deterministic name, counting up.
// Recording is best effort: failures are logged, not returned.
type Recorder struct {
	c   *client.Client
	log *slog.Logger
	now func() time.Time
}

// NewRecorder returns a recorder writing through c.
func NewRecorder(c *client.Client, log *slog.Logger, now func() time.Time) *Recorder {
	return &Recorder{c: c, log: log, now: now}
}

// Ref returns a reference to an object for an Event.
func Ref(kind string, md *waskv1.ObjectMeta) *waskv1.ObjectReference {
	return &waskv1.ObjectReference{Kind: kind, Namespace: md.GetNamespace(), Name: md.GetName(), Uid: md.GetUid()}
}

// EventName is the deterministic name of the Event of component about
// object with reason.
func EventName(component string, about *waskv1.ObjectReference, reason string) string {
	h := fnv.New64a()
	for _, s := range []string{component, about.GetKind(), about.GetNamespace(), about.GetName(), about.GetUid(), reason} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	name := about.GetName()
	if len(name) > 200 {
		name = name[:200]
	}
	return fmt.Sprintf("%s.%016x", strings.TrimRight(name, ".-"), h.Sum64())
}

// Event records that reason happened to about; typ is "Normal" or
// "Warning".
func (r *Recorder) Event(ctx context.Context, component string, about *waskv1.ObjectReference, typ, reason, message string) {
	if err := r.record(ctx, component, about, typ, reason, message); err != nil {
		r.log.Warn("could not record an event", "reason", reason, "object", about.GetKind()+"/"+about.GetName(), "err", err)
	}
}

func (r *Recorder) record(ctx context.Context, component string, about *waskv1.ObjectReference, typ, reason, message string) error {
	ns := about.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	name := EventName(component, about, reason)
	now := timestamppb.New(r.now())
	for attempt := 0; attempt < 3; attempt++ {
		cur, err := client.Get[*waskv1.Event](ctx, r.c, ns, name)
		switch {
		case connect.CodeOf(err) == connect.CodeNotFound:
			_, err = client.Create(ctx, r.c, &waskv1.Event{
				Metadata:       &waskv1.ObjectMeta{Name: name, Namespace: ns},
				InvolvedObject: about, Reason: reason, Message: message, Type: typ, Count: 1,
				FirstTimestamp: now, LastTimestamp: now,
				Source: &waskv1.EventSource{Component: component},
			})
		case err == nil:
			next := proto.CloneOf(cur)
			next.Count++
			next.Message, next.Type, next.LastTimestamp = message, typ, now
			_, err = client.Update(ctx, r.c, next)
		}
		switch connect.CodeOf(err) {
		case connect.CodeAlreadyExists, connect.CodeAborted:
			continue
		}
		if err != nil {
			return fmt.Errorf("record event %s/%s: %w", ns, name, err)
		}
		return nil
	}
	return fmt.Errorf("record event %s/%s: changed by others, giving up", ns, name)
}
