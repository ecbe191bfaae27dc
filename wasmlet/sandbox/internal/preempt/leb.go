package preempt

import (
	"errors"
	"fmt"
)

var errTruncated = errors.New("unexpected end of input")

// reader reads a WebAssembly binary. Every read reports a malformed input
// as an error naming the offset, so the caller can say where.
type reader struct {
	b   []byte
	off int
}

func (r *reader) done() bool { return r.off >= len(r.b) }

func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %#x: %s", r.off, fmt.Sprintf(format, args...))
}

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.errorf("%v", errTruncated)
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, r.errorf("%d bytes: %v", n, errTruncated)
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b, nil
}

// uleb reads an unsigned LEB128 of at most bits bits.
func (r *reader) uleb(bits uint) (uint64, error) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= bits {
			return 0, r.errorf("LEB128 longer than %d bits", bits)
		}
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
}

func (r *reader) u32() (uint32, error) {
	v, err := r.uleb(32)
	if v > 1<<32-1 {
		return 0, r.errorf("u32 out of range")
	}
	return uint32(v), err
}

// sleb skips a signed LEB128 of at most bits bits; instrumenting never
// needs its value.
func (r *reader) sleb(bits uint) error {
	_, err := r.uleb(bits)
	return err
}

// name reads a length-prefixed byte string.
func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(int(n))
	return string(b), err
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}
