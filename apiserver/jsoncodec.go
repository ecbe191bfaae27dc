package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// jsonCodecs replace Connect's JSON codecs (same names, same output) with
// ones that understand pre-encoded messages (wire.go).
func jsonCodecs() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCodec(jsonCodec{name: "json"}),
		connect.WithCodec(jsonCodec{name: "json; charset=utf-8"}),
	}
}

// jsonCodec is Connect's protojson codec, except that a message carrying
// pre-encoded fields (unknown fields, which protojson would drop) is first
// decoded into a fresh message. Only JSON clients pay for that.
type jsonCodec struct{ name string }

func (c jsonCodec) Name() string { return c.name }

func (c jsonCodec) Marshal(msg any) ([]byte, error) { return c.MarshalAppend(nil, msg) }

func (c jsonCodec) MarshalAppend(dst []byte, msg any) ([]byte, error) {
	m, err := decodePreEncoded(msg)
	if err != nil {
		return nil, err
	}
	return protojson.MarshalOptions{}.MarshalAppend(dst, m)
}

func (c jsonCodec) MarshalStable(msg any) ([]byte, error) {
	b, err := c.Marshal(msg)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (c jsonCodec) IsBinary() bool { return false }

func (c jsonCodec) Unmarshal(data []byte, msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return fmt.Errorf("%T doesn't implement proto.Message", msg)
	}
	if len(data) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, m); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", msg, err)
	}
	return nil
}

// decodePreEncoded returns msg, or, if it carries unknown fields, a copy
// with them decoded (fields this server's schema knows become real
// fields; others stay unknown, as they would have).
func decodePreEncoded(msg any) (proto.Message, error) {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T doesn't implement proto.Message", msg)
	}
	if len(m.ProtoReflect().GetUnknown()) == 0 {
		return m, nil
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal %T: %w", msg, err)
	}
	out := m.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("decode pre-encoded %T: %w", msg, err)
	}
	return out, nil
}
