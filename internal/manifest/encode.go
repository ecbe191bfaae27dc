package manifest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// withTypeMeta returns the object inside o with apiVersion and kind set, as
// every manifest carries them.
func withTypeMeta(o *waskv1.Object) (proto.Message, error) {
	info, ok := o.Info()
	if !ok {
		return nil, fmt.Errorf("manifest: empty object")
	}
	m := proto.Clone(o.Unwrap())
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	r.Set(fields.ByName("api_version"), protoreflect.ValueOfString(waskv1.APIVersion))
	r.Set(fields.ByName("kind"), protoreflect.ValueOfString(info.Kind))
	return m, nil
}

// EncodeJSON writes one object, or a List of several (list true), as
// indented JSON in the API's JSON form.
func EncodeJSON(objs []*waskv1.Object, list bool) ([]byte, error) {
	opts := protojson.MarshalOptions{Indent: "  "}
	var items []json.RawMessage
	for _, o := range objs {
		m, err := withTypeMeta(o)
		if err != nil {
			return nil, err
		}
		b, err := opts.Marshal(m)
		if err != nil {
			return nil, err
		}
		items = append(items, b)
	}
	if !list && len(items) == 1 {
		return append(items[0], '\n'), nil
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	b, err := json.MarshalIndent(struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}{waskv1.APIVersion, "List", items}, "", "  ")
	return append(b, '\n'), err
}

// EncodeYAML writes one object, or a List of several (list true), as YAML
// that Decode reads back.
func EncodeYAML(objs []*waskv1.Object, list bool) ([]byte, error) {
	var nodes []*yaml.Node
	for _, o := range objs {
		m, err := withTypeMeta(o)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, messageNode(m.ProtoReflect()))
	}
	var root *yaml.Node
	if !list && len(nodes) == 1 {
		root = nodes[0]
	} else {
		root = mapping(
			str("apiVersion"), str(waskv1.APIVersion),
			str("kind"), str("List"),
			str("items"), &yaml.Node{Kind: yaml.SequenceNode, Content: nodes},
		)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

func mapping(content ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Content: content}
}

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func scalar(tag, s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s}
}

// messageNode renders the populated fields in field-number order (so
// apiVersion, kind, metadata, spec, status), maps sorted by key.
func messageNode(m protoreflect.Message) *yaml.Node {
	if m.Descriptor().FullName() == "google.protobuf.Timestamp" {
		ts := m.Interface().(*timestamppb.Timestamp)
		return str(ts.AsTime().UTC().Format(time.RFC3339Nano))
	}
	n := mapping()
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		var vn *yaml.Node
		switch {
		case fd.IsMap():
			vn = mapNode(v.Map(), fd)
		case fd.IsList():
			vn = &yaml.Node{Kind: yaml.SequenceNode}
			for j := 0; j < v.List().Len(); j++ {
				vn.Content = append(vn.Content, valueNode(v.List().Get(j), fd))
			}
		default:
			vn = valueNode(v, fd)
		}
		n.Content = append(n.Content, str(fd.JSONName()), vn)
	}
	return n
}

func mapNode(mp protoreflect.Map, fd protoreflect.FieldDescriptor) *yaml.Node {
	type entry struct {
		k string
		v protoreflect.Value
	}
	var entries []entry
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		entries = append(entries, entry{k.String(), v})
		return true
	})
	sort.Slice(entries, func(i, j int) bool { return entries[i].k < entries[j].k })
	n := mapping()
	for _, e := range entries {
		n.Content = append(n.Content, str(e.k), valueNode(e.v, fd.MapValue()))
	}
	return n
}

func valueNode(v protoreflect.Value, fd protoreflect.FieldDescriptor) *yaml.Node {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return messageNode(v.Message())
	case protoreflect.StringKind:
		return str(v.String())
	case protoreflect.BoolKind:
		return scalar("!!bool", strconv.FormatBool(v.Bool()))
	case protoreflect.BytesKind:
		return str(base64.StdEncoding.EncodeToString(v.Bytes()))
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return scalar("!!float", strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return str(string(ev.Name()))
		}
		return scalar("!!int", strconv.Itoa(int(v.Enum())))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return scalar("!!int", strconv.FormatUint(v.Uint(), 10))
	default:
		return scalar("!!int", strconv.FormatInt(v.Int(), 10))
	}
}

// EncodeYAMLMessage writes any message (such as a spec) as YAML, in the
// same form as objects.
func EncodeYAMLMessage(m proto.Message) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(messageNode(m.ProtoReflect())); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}
