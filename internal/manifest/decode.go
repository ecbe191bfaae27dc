package manifest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// Error is a decoding error at a place in a manifest.
type Error struct {
	File  string // may be empty (standard input)
	Line  int
	Field string // dotted path, e.g. spec.template.spec.env[1].name
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Decode reads every document of a YAML or JSON stream. Empty documents
// are skipped; a List (kind: List, items: [...]) contributes its items.
func Decode(r io.Reader, file string) ([]*waskv1.Object, error) {
	dec := yaml.NewDecoder(r)
	var out []*waskv1.Object
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, &Error{File: file, Msg: err.Error()}
		}
		if len(doc.Content) == 0 {
			continue
		}
		objs, err := decodeDocument(doc.Content[0], file)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
}

func decodeDocument(n *yaml.Node, file string) ([]*waskv1.Object, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: n.Line, Msg: "a manifest document must be a mapping with apiVersion and kind"}
	}
	var apiVersion, kind string
	var kindLine int
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "apiVersion":
			apiVersion = n.Content[i+1].Value
		case "kind":
			kind, kindLine = n.Content[i+1].Value, n.Content[i+1].Line
		}
	}
	if kind == "" {
		return nil, &Error{File: file, Line: n.Line, Field: "kind", Msg: "required"}
	}
	if kind == "List" {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "items" {
				var out []*waskv1.Object
				for _, item := range n.Content[i+1].Content {
					objs, err := decodeDocument(item, file)
					if err != nil {
						return nil, err
					}
					out = append(out, objs...)
				}
				return out, nil
			}
		}
		return nil, nil
	}
	if apiVersion != waskv1.APIVersion {
		return nil, &Error{File: file, Line: n.Line, Field: "apiVersion", Msg: fmt.Sprintf("%q is not supported; want %q", apiVersion, waskv1.APIVersion)}
	}
	info, ok := waskv1.LookupKind(kind)
	if !ok || info.Kind != kind {
		return nil, &Error{File: file, Line: kindLine, Field: "kind", Msg: fmt.Sprintf("unknown kind %q", kind)}
	}
	m := info.New()
	d := decoder{file: file}
	if err := d.message(n, m.ProtoReflect(), ""); err != nil {
		return nil, err
	}
	obj, err := waskv1.Wrap(m)
	if err != nil {
		return nil, err
	}
	return []*waskv1.Object{obj}, nil
}

type decoder struct{ file string }

func (d decoder) errorf(n *yaml.Node, path, format string, args ...any) error {
	return &Error{File: d.file, Line: n.Line, Field: path, Msg: fmt.Sprintf(format, args...)}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (d decoder) message(n *yaml.Node, m protoreflect.Message, path string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, path, "want a mapping, got %s", describe(n))
	}
	fields := m.Descriptor().Fields()
	seen := map[protoreflect.FieldNumber]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		fd := fields.ByJSONName(key.Value)
		if fd == nil {
			fd = fields.ByTextName(key.Value)
		}
		fpath := join(path, key.Value)
		if fd == nil {
			return d.errorf(key, fpath, "unknown field%s", suggest(key.Value, fields))
		}
		if seen[fd.Number()] {
			return d.errorf(key, fpath, "duplicate field")
		}
		seen[fd.Number()] = true
		if isNull(val) {
			continue
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if other := m.WhichOneof(od); other != nil {
				return d.errorf(key, fpath, "only one of the fields of %s may be set (%s is set)", od.Name(), other.JSONName())
			}
		}
		var err error
		switch {
		case fd.IsMap():
			err = d.mapField(val, m, fd, fpath)
		case fd.IsList():
			err = d.listField(val, m, fd, fpath)
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			child := m.Mutable(fd).Message()
			err = d.messageValue(val, child, fpath)
		default:
			var v protoreflect.Value
			if v, err = d.scalar(val, fd, fpath); err == nil {
				m.Set(fd, v)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// messageValue decodes a message, handling the well-known types that have
// a scalar JSON form.
func (d decoder) messageValue(n *yaml.Node, m protoreflect.Message, path string) error {
	if m.Descriptor().FullName() == "google.protobuf.Timestamp" {
		if n.Kind != yaml.ScalarNode {
			return d.errorf(n, path, "want an RFC 3339 time, got %s", describe(n))
		}
		t, err := time.Parse(time.RFC3339Nano, n.Value)
		if err != nil {
			return d.errorf(n, path, "want an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", n.Value)
		}
		proto.Merge(m.Interface(), timestamppb.New(t))
		return nil
	}
	return d.message(n, m, path)
}

func (d decoder) listField(n *yaml.Node, m protoreflect.Message, fd protoreflect.FieldDescriptor, path string) error {
	if n.Kind != yaml.SequenceNode {
		return d.errorf(n, path, "want a list, got %s", describe(n))
	}
	list := m.Mutable(fd).List()
	for i, item := range n.Content {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		if fd.Kind() == protoreflect.MessageKind {
			v := list.NewElement()
			if err := d.messageValue(item, v.Message(), ipath); err != nil {
				return err
			}
			list.Append(v)
			continue
		}
		v, err := d.scalar(item, fd, ipath)
		if err != nil {
			return err
		}
		list.Append(v)
	}
	return nil
}

func (d decoder) mapField(n *yaml.Node, m protoreflect.Message, fd protoreflect.FieldDescriptor, path string) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, path, "want a mapping, got %s", describe(n))
	}
	mp := m.Mutable(fd).Map()
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		kpath := path + "." + key.Value
		k, err := d.scalar(key, fd.MapKey(), kpath)
		if err != nil {
			return err
		}
		if mp.Has(k.MapKey()) {
			return d.errorf(key, kpath, "duplicate key")
		}
		if fd.MapValue().Kind() == protoreflect.MessageKind {
			v := mp.NewValue()
			if err := d.messageValue(val, v.Message(), kpath); err != nil {
				return err
			}
			mp.Set(k.MapKey(), v)
			continue
		}
		v, err := d.scalar(val, fd.MapValue(), kpath)
		if err != nil {
			return err
		}
		mp.Set(k.MapKey(), v)
	}
	return nil
}

func (d decoder) scalar(n *yaml.Node, fd protoreflect.FieldDescriptor, path string) (protoreflect.Value, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return protoreflect.Value{}, d.errorf(n, path, "want a %s, got %s", kindWord(fd), describe(n))
	}
	s := n.Value
	switch fd.Kind() {
	case protoreflect.StringKind:
		// Any scalar is text: `maxSurge: 1` and `value: 8080` mean "1"
		// and "8080".
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BoolKind:
		switch s {
		case "true", "True", "TRUE":
			return protoreflect.ValueOfBool(true), nil
		case "false", "False", "FALSE":
			return protoreflect.ValueOfBool(false), nil
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if v, err := strconv.ParseInt(s, 10, 32); err == nil {
			return protoreflect.ValueOfInt32(int32(v)), nil
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return protoreflect.ValueOfInt64(v), nil
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if v, err := strconv.ParseUint(s, 10, 32); err == nil {
			return protoreflect.ValueOfUint32(uint32(v)), nil
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			return protoreflect.ValueOfUint64(v), nil
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(v, 0) {
			if fd.Kind() == protoreflect.FloatKind {
				return protoreflect.ValueOfFloat32(float32(v)), nil
			}
			return protoreflect.ValueOfFloat64(v), nil
		}
	case protoreflect.BytesKind:
		if v, err := base64.StdEncoding.DecodeString(s); err == nil {
			return protoreflect.ValueOfBytes(v), nil
		}
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByName(protoreflect.Name(s)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
	}
	return protoreflect.Value{}, d.errorf(n, path, "want a %s, got %q", kindWord(fd), s)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func kindWord(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "boolean (true or false)"
	case protoreflect.StringKind:
		return "string"
	case protoreflect.BytesKind:
		return "base64 string"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "number"
	case protoreflect.EnumKind:
		return "enum value"
	case protoreflect.MessageKind:
		return "mapping"
	}
	return "whole number"
}

// suggest names a known field close to an unknown one.
func suggest(name string, fields protoreflect.FieldDescriptors) string {
	best, bestDist := "", 3
	for i := 0; i < fields.Len(); i++ {
		cand := fields.Get(i).JSONName()
		if d := editDistance(strings.ToLower(name), strings.ToLower(cand)); d < bestDist {
			best, bestDist = cand, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
