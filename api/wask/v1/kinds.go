package waskv1

import (
	"fmt"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// APIVersion is the apiVersion of every wask object.
const APIVersion = "wask.dev/v1"

// KindInfo describes one kind of object.
type KindInfo struct {
	// Kind is the name users write: "Pod", "ReplicaSet".
	Kind string
	// Plural is the lower-case plural used in store keys and the CLI: "pods".
	Plural string
	// ShortNames are the CLI's abbreviations, as kubectl's: "po".
	ShortNames []string
	// Namespaced is false for cluster-scoped kinds (Namespace, Node, Module).
	Namespaced bool

	field protoreflect.FieldDescriptor // the Object oneof field of the kind
}

// New returns an empty object of this kind.
func (k KindInfo) New() proto.Message {
	return (&Object{}).ProtoReflect().NewField(k.field).Message().Interface()
}

// kinds lists every kind in Object's oneof order.
var kinds = []KindInfo{
	{Kind: "Namespace", Plural: "namespaces", ShortNames: []string{"ns"}},
	{Kind: "Node", Plural: "nodes", ShortNames: []string{"no"}},
	{Kind: "Lease", Plural: "leases", Namespaced: true},
	{Kind: "Pod", Plural: "pods", ShortNames: []string{"po"}, Namespaced: true},
	{Kind: "ReplicaSet", Plural: "replicasets", ShortNames: []string{"rs"}, Namespaced: true},
	{Kind: "Deployment", Plural: "deployments", ShortNames: []string{"deploy"}, Namespaced: true},
	{Kind: "Job", Plural: "jobs", Namespaced: true},
	{Kind: "Service", Plural: "services", ShortNames: []string{"svc"}, Namespaced: true},
	{Kind: "Endpoints", Plural: "endpoints", ShortNames: []string{"ep"}, Namespaced: true},
	{Kind: "Module", Plural: "modules", ShortNames: []string{"mod"}},
	{Kind: "Event", Plural: "events", ShortNames: []string{"ev"}, Namespaced: true},
}

type kindIndex struct {
	byName    map[string]*KindInfo // every spelling, lower case
	byMessage map[protoreflect.FullName]*KindInfo
}

// index is built on first use: the generated descriptors are initialized
// by the generated files' init functions, which may run after this file's.
var index = sync.OnceValue(func() *kindIndex {
	idx := &kindIndex{byName: map[string]*KindInfo{}, byMessage: map[protoreflect.FullName]*KindInfo{}}
	oneof := (&Object{}).ProtoReflect().Descriptor().Oneofs().ByName("kind")
	if oneof.Fields().Len() != len(kinds) {
		panic(fmt.Sprintf("waskv1: Object has %d kinds, the kind table %d", oneof.Fields().Len(), len(kinds)))
	}
	for i := range kinds {
		k := &kinds[i]
		k.field = oneof.Fields().Get(i)
		if string(k.field.Message().Name()) != k.Kind {
			panic(fmt.Sprintf("waskv1: Object field %d is %s, the kind table says %s", i, k.field.Message().Name(), k.Kind))
		}
		idx.byMessage[k.field.Message().FullName()] = k
		for _, name := range append([]string{k.Kind, k.Plural}, k.ShortNames...) {
			idx.byName[strings.ToLower(name)] = k
		}
	}
	return idx
})

// Kinds returns every kind, in Object's order.
func Kinds() []KindInfo {
	index()
	return append([]KindInfo(nil), kinds...)
}

// LookupKind finds a kind by any of its names, ignoring case: "Pod", "pods",
// "po".
func LookupKind(name string) (KindInfo, bool) {
	k, ok := index().byName[strings.ToLower(name)]
	if !ok {
		return KindInfo{}, false
	}
	return *k, true
}

// KindOf returns the kind of a message such as *Pod.
func KindOf(m proto.Message) (KindInfo, bool) {
	k, ok := index().byMessage[m.ProtoReflect().Descriptor().FullName()]
	if !ok {
		return KindInfo{}, false
	}
	return *k, true
}

// Wrap puts an object of any kind into an Object.
func Wrap(m proto.Message) (*Object, error) {
	k, ok := KindOf(m)
	if !ok {
		return nil, fmt.Errorf("waskv1: %s is not an object kind", m.ProtoReflect().Descriptor().FullName())
	}
	o := &Object{}
	o.ProtoReflect().Set(k.field, protoreflect.ValueOfMessage(m.ProtoReflect()))
	return o, nil
}

// Unwrap returns the object inside o (such as a *Pod), or nil if o is empty.
func (o *Object) Unwrap() proto.Message {
	if o == nil {
		return nil
	}
	r := o.ProtoReflect()
	fd := r.WhichOneof(r.Descriptor().Oneofs().ByName("kind"))
	if fd == nil {
		return nil
	}
	return r.Get(fd).Message().Interface()
}

// Info returns the kind of the object inside o.
func (o *Object) Info() (KindInfo, bool) {
	m := o.Unwrap()
	if m == nil {
		return KindInfo{}, false
	}
	return KindOf(m)
}

// Metadata returns the metadata of the object inside o, or nil.
func (o *Object) Metadata() *ObjectMeta {
	m := o.Unwrap()
	if m == nil {
		return nil
	}
	if mm, ok := m.(interface{ GetMetadata() *ObjectMeta }); ok {
		return mm.GetMetadata()
	}
	return nil
}
