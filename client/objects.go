package client

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// kindOf returns the kind of the object type T (such as *waskv1.Pod).
func kindOf[T proto.Message]() (waskv1.KindInfo, error) {
	var zero T
	k, ok := waskv1.KindOf(zero)
	if !ok {
		return waskv1.KindInfo{}, fmt.Errorf("client: %T is not an object kind", zero)
	}
	return k, nil
}

// As returns the object inside o as a T.
func As[T proto.Message](o *waskv1.Object) (T, error) {
	var zero T
	m, ok := o.Unwrap().(T)
	if !ok {
		return zero, fmt.Errorf("client: got %T, want %T", o.Unwrap(), zero)
	}
	return m, nil
}

// Get reads one object.
func Get[T proto.Message](ctx context.Context, c *Client, namespace, name string) (T, error) {
	var zero T
	k, err := kindOf[T]()
	if err != nil {
		return zero, err
	}
	resp, err := c.Objects.Get(ctx, connect.NewRequest(&waskv1.GetRequest{Kind: k.Kind, Namespace: namespace, Name: name}))
	if err != nil {
		return zero, err
	}
	return As[T](resp.Msg.GetObject())
}

// ListOptions select the objects List returns.
type ListOptions struct {
	Namespace     string // empty: all namespaces
	LabelSelector string
	FieldSelector string
	// PageSize is the number of objects per request; 0 means 500.
	PageSize int64
}

// List reads every matching object, page by page, at one revision, which
// it returns (watch from it to follow later changes).
func List[T proto.Message](ctx context.Context, c *Client, opts ListOptions) ([]T, string, error) {
	k, err := kindOf[T]()
	if err != nil {
		return nil, "", err
	}
	objs, rev, err := listObjects(ctx, c, k.Kind, opts)
	if err != nil {
		return nil, "", err
	}
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		m, err := As[T](o)
		if err != nil {
			return nil, "", err
		}
		out = append(out, m)
	}
	return out, rev, nil
}

func listObjects(ctx context.Context, c *Client, kind string, opts ListOptions) ([]*waskv1.Object, string, error) {
	pageSize := opts.PageSize
	if pageSize == 0 {
		pageSize = 500
	}
	req := &waskv1.ListRequest{
		Kind:          kind,
		Namespace:     opts.Namespace,
		LabelSelector: opts.LabelSelector,
		FieldSelector: opts.FieldSelector,
		Limit:         pageSize,
	}
	var items []*waskv1.Object
	for {
		resp, err := c.Objects.List(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, "", err
		}
		items = append(items, resp.Msg.GetItems()...)
		if resp.Msg.GetContinue() == "" {
			return items, resp.Msg.GetRevision(), nil
		}
		req.Continue = resp.Msg.GetContinue()
	}
}

// Create stores a new object and returns it as stored.
func Create[T proto.Message](ctx context.Context, c *Client, obj T) (T, error) {
	return write(ctx, obj, func(o *waskv1.Object) (*waskv1.Object, error) {
		resp, err := c.Objects.Create(ctx, connect.NewRequest(&waskv1.CreateRequest{Object: o}))
		if err != nil {
			return nil, err
		}
		return resp.Msg.GetObject(), nil
	})
}

// Update replaces an object's spec and metadata; a set metadata.revision
// makes it conditional (connect.CodeAborted if the object changed).
func Update[T proto.Message](ctx context.Context, c *Client, obj T) (T, error) {
	return write(ctx, obj, func(o *waskv1.Object) (*waskv1.Object, error) {
		resp, err := c.Objects.Update(ctx, connect.NewRequest(&waskv1.UpdateRequest{Object: o}))
		if err != nil {
			return nil, err
		}
		return resp.Msg.GetObject(), nil
	})
}

// UpdateStatus replaces an object's status, with the same revision rule as
// Update.
func UpdateStatus[T proto.Message](ctx context.Context, c *Client, obj T) (T, error) {
	return write(ctx, obj, func(o *waskv1.Object) (*waskv1.Object, error) {
		resp, err := c.Objects.UpdateStatus(ctx, connect.NewRequest(&waskv1.UpdateStatusRequest{Object: o}))
		if err != nil {
			return nil, err
		}
		return resp.Msg.GetObject(), nil
	})
}

func write[T proto.Message](ctx context.Context, obj T, call func(*waskv1.Object) (*waskv1.Object, error)) (T, error) {
	var zero T
	o, err := waskv1.Wrap(obj)
	if err != nil {
		return zero, err
	}
	got, err := call(o)
	if err != nil {
		return zero, err
	}
	return As[T](got)
}

// Delete deletes an object (or marks it for deletion if it has finalizers)
// and returns its last state.
func Delete[T proto.Message](ctx context.Context, c *Client, namespace, name string, pre *waskv1.Preconditions) (T, error) {
	var zero T
	k, err := kindOf[T]()
	if err != nil {
		return zero, err
	}
	resp, err := c.Objects.Delete(ctx, connect.NewRequest(&waskv1.DeleteRequest{Kind: k.Kind, Namespace: namespace, Name: name, Preconditions: pre}))
	if err != nil {
		return zero, err
	}
	return As[T](resp.Msg.GetObject())
}
