package apiserver

import (
	"context"
	"errors"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/store"
)

// maxWriteAttempts bounds the read-modify-write retries of an unconditional
// write (no revision precondition) that races with other writers.
const maxWriteAttempts = 8

// defaultNamespace is accepted without a Namespace object and used when a
// namespaced request leaves the namespace empty.
const defaultNamespace = "default"

// kindArg resolves a request's kind name.
func kindArg(name string) (*kindInfo, error) {
	if name == "" {
		return nil, invalidArgument("kind: required (one of %s)", kindNames())
	}
	k, ok := kinds[name]
	if !ok {
		return nil, invalidArgument("kind: unknown kind %q (one of %s)", name, kindNames())
	}
	return k, nil
}

func kindNames() string {
	var names []string
	for n := range kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// objectArg returns a copy of the object a request carries.
func objectArg(obj *waskv1.Object) (*kindInfo, proto.Message, error) {
	k, m := unwrap(obj)
	if k == nil {
		return nil, nil, invalidArgument("object: required (exactly one kind, e.g. {\"pod\": {...}})")
	}
	m = proto.Clone(m)
	md := k.meta(m)
	if k.namespaced && md.Namespace == "" {
		md.Namespace = defaultNamespace
	}
	return k, m, nil
}

// nameArgs checks and defaults a request's namespace and name.
func nameArgs(k *kindInfo, ns, name string) (string, error) {
	if k.namespaced {
		if ns == "" {
			ns = defaultNamespace
		}
		if why := checkDNSLabel(ns); why != "" {
			return "", invalidArgument("namespace: %s", why)
		}
	} else if ns != "" {
		return "", invalidArgument("namespace: must be empty: %s is cluster-scoped", k.name)
	}
	if name == "" {
		return "", invalidArgument("name: required")
	}
	return ns, nil
}

// read returns the current object and its store version, or NotFound.
func (s *Server) read(ctx context.Context, k *kindInfo, ns, name string) (proto.Message, store.KeyValue, error) {
	kv, err := s.st.Get(ctx, k.key(ns, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, kv, notFound(k, ns, name)
	}
	if err != nil {
		return nil, kv, translate(err, "read "+k.lowerName()+" "+name)
	}
	m, err := k.decodeKV(kv)
	if err != nil {
		return nil, kv, translate(err, "read "+k.lowerName()+" "+name)
	}
	return m, kv, nil
}
