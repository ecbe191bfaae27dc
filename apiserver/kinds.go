package apiserver

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// apiVersion is the only API version of wask objects.
const apiVersion = waskv1.APIVersion

// registryPrefix is the root of every object key in the store.
const registryPrefix = "/registry/"

// kindInfo describes one kind of object.
type kindInfo struct {
	// name is the message name, e.g. "ReplicaSet".
	name string
	// plural is the lowercase plural used in store keys, e.g. "replicasets".
	plural string
	// namespaced is false for Namespace, Node and Module.
	namespaced bool
	// field is the kind's field in the Object oneof.
	field protoreflect.FieldDescriptor
	// Fields of the kind's message; status is nil for kinds without one.
	apiVersionField, kindField, metadataField, statusField protoreflect.FieldDescriptor
	// specFields are the fields that count as the object's desired state:
	// every top-level field but api_version, kind, metadata and status.
	// For most kinds that is just `spec`; Endpoints and Event carry theirs
	// at the top level.
	specFields []protoreflect.FieldDescriptor
	// typeMetaWire is api_version and kind, set, on the wire (wire.go).
	typeMetaWire []byte
}

// kinds holds every kind by its name.
var kinds = newKindRegistry()

var objectKindOneof = (&waskv1.Object{}).ProtoReflect().Descriptor().Oneofs().ByName("kind")

func newKindRegistry() map[string]*kindInfo {
	reg := make(map[string]*kindInfo)
	fields := objectKindOneof.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		md := fd.Message()
		name := string(md.Name())
		info, ok := waskv1.LookupKind(name)
		if !ok || info.Kind != name {
			panic("apiserver: kind " + name + " is not in the API's kind table")
		}
		k := &kindInfo{
			name:            name,
			plural:          info.Plural,
			namespaced:      info.Namespaced,
			field:           fd,
			apiVersionField: md.Fields().ByName("api_version"),
			kindField:       md.Fields().ByName("kind"),
			metadataField:   md.Fields().ByName("metadata"),
			statusField:     md.Fields().ByName("status"),
		}
		mf := md.Fields()
		for j := range mf.Len() {
			f := mf.Get(j)
			switch f.Name() {
			case "api_version", "kind", "metadata", "status":
			default:
				k.specFields = append(k.specFields, f)
			}
		}
		if k.apiVersionField == nil || k.kindField == nil || k.metadataField == nil {
			panic("apiserver: kind " + name + " lacks api_version, kind or metadata")
		}
		k.typeMetaWire = k.newTypeMetaWire()
		reg[name] = k
	}
	return reg
}

// lowerName is the kind's name in messages, e.g. "replicaset".
func (k *kindInfo) lowerName() string { return strings.ToLower(k.name) }

// prefix returns the store prefix of the kind's objects in namespace ns
// (every namespace if ns is empty or the kind is cluster-scoped).
func (k *kindInfo) prefix(ns string) string {
	if !k.namespaced || ns == "" {
		return registryPrefix + k.plural + "/"
	}
	return registryPrefix + k.plural + "/" + ns + "/"
}

// key returns the store key of an object.
func (k *kindInfo) key(ns, name string) []byte {
	if !k.namespaced {
		return []byte(registryPrefix + k.plural + "/" + name)
	}
	return []byte(registryPrefix + k.plural + "/" + ns + "/" + name)
}

// newMessage returns an empty message of the kind, e.g. a *waskv1.Pod.
func (k *kindInfo) newMessage() proto.Message {
	return (&waskv1.Object{}).ProtoReflect().NewField(k.field).Message().Interface()
}

// wrap puts m, a message of the kind, into an Object.
func (k *kindInfo) wrap(m proto.Message) *waskv1.Object {
	obj := &waskv1.Object{}
	obj.ProtoReflect().Set(k.field, protoreflect.ValueOfMessage(m.ProtoReflect()))
	return obj
}

// unwrap returns the kind and message an Object carries, or nil if none is set.
func unwrap(obj *waskv1.Object) (*kindInfo, proto.Message) {
	if obj == nil {
		return nil, nil
	}
	r := obj.ProtoReflect()
	fd := r.WhichOneof(objectKindOneof)
	if fd == nil {
		return nil, nil
	}
	return kinds[string(fd.Message().Name())], r.Get(fd).Message().Interface()
}

// meta returns m's metadata, creating it if unset.
func (k *kindInfo) meta(m proto.Message) *waskv1.ObjectMeta {
	return m.ProtoReflect().Mutable(k.metadataField).Message().Interface().(*waskv1.ObjectMeta)
}

// setTypeMeta sets api_version and kind to their only values.
func (k *kindInfo) setTypeMeta(m proto.Message) {
	r := m.ProtoReflect()
	r.Set(k.apiVersionField, protoreflect.ValueOfString(apiVersion))
	r.Set(k.kindField, protoreflect.ValueOfString(k.name))
}

// typeMeta returns m's api_version and kind as sent.
func (k *kindInfo) typeMeta(m proto.Message) (apiVer, kind string) {
	r := m.ProtoReflect()
	return r.Get(k.apiVersionField).String(), r.Get(k.kindField).String()
}

// specEqual reports whether a and b have the same desired state.
func (k *kindInfo) specEqual(a, b proto.Message) bool {
	ra, rb := a.ProtoReflect(), b.ProtoReflect()
	for _, f := range k.specFields {
		if !fieldEqual(ra, rb, f) {
			return false
		}
	}
	return true
}

// copySpec replaces dst's desired state with src's.
func (k *kindInfo) copySpec(dst, src proto.Message) {
	copyFields(dst.ProtoReflect(), src.ProtoReflect(), k.specFields...)
}

// copyStatus replaces dst's status with src's (nothing for kinds without one).
func (k *kindInfo) copyStatus(dst, src proto.Message) {
	if k.statusField != nil {
		copyFields(dst.ProtoReflect(), src.ProtoReflect(), k.statusField)
	}
}

// clearStatus removes m's status.
func (k *kindInfo) clearStatus(m proto.Message) {
	if k.statusField != nil {
		m.ProtoReflect().Clear(k.statusField)
	}
}

func fieldEqual(a, b protoreflect.Message, f protoreflect.FieldDescriptor) bool {
	if a.Has(f) != b.Has(f) {
		// An empty message counts as unset.
		if f.Message() != nil && f.Cardinality() != protoreflect.Repeated {
			ea := !a.Has(f) || proto.Size(a.Get(f).Message().Interface()) == 0
			eb := !b.Has(f) || proto.Size(b.Get(f).Message().Interface()) == 0
			return ea && eb
		}
		return false
	}
	if !a.Has(f) {
		return true
	}
	// Compare through single-field messages so proto.Equal handles lists and maps.
	ma, mb := a.New(), b.New()
	ma.Set(f, a.Get(f))
	mb.Set(f, b.Get(f))
	return proto.Equal(ma.Interface(), mb.Interface())
}

func copyFields(dst, src protoreflect.Message, fields ...protoreflect.FieldDescriptor) {
	for _, f := range fields {
		if src.Has(f) {
			dst.Set(f, cloneValue(src, f))
		} else {
			dst.Clear(f)
		}
	}
}

// cloneValue returns a deep copy of src's field f.
func cloneValue(src protoreflect.Message, f protoreflect.FieldDescriptor) protoreflect.Value {
	tmp := src.New()
	tmp.Set(f, src.Get(f))
	c := proto.Clone(tmp.Interface()).ProtoReflect()
	return c.Get(f)
}
