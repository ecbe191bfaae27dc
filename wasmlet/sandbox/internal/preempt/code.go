package preempt

import "fmt"

// Opcodes the rewriter acts on or must step over; the rest of an
// instruction is copied as it is.
const (
	opBlock              = 0x02
	opLoop               = 0x03
	opIf                 = 0x04
	opElse               = 0x05
	opThrow              = 0x08
	opEnd                = 0x0b
	opBr                 = 0x0c
	opBrIf               = 0x0d
	opBrTable            = 0x0e
	opCall               = 0x10
	opCallIndirect       = 0x11
	opReturnCall         = 0x12
	opReturnCallIndirect = 0x13
	opSelectTyped        = 0x1c
	opTryTable           = 0x1f
	opLocalGet           = 0x20
	opGlobalSet          = 0x24
	opTableGet           = 0x25
	opTableSet           = 0x26
	opLoadFirst          = 0x28
	opStoreLast          = 0x3e
	opMemorySize         = 0x3f
	opMemoryGrow         = 0x40
	opI32Const           = 0x41
	opI64Const           = 0x42
	opF32Const           = 0x43
	opF64Const           = 0x44
	opNumericFirst       = 0x45
	opNumericLast        = 0xc4
	opRefNull            = 0xd0
	opRefIsNull          = 0xd1
	opRefFunc            = 0xd2
	opPrefixMisc         = 0xfc
	opPrefixSIMD         = 0xfd
	opPrefixAtomic       = 0xfe
)

// rewriter copies expressions, renumbering the functions the added import
// displaces and, in function bodies, putting the check after every loop
// header.
type rewriter struct {
	funcImports uint32 // functions imported before the added one
	check       []byte // the instructions put at each loop header
}

// funcIndex maps a function index of the input to the output's.
func (w *rewriter) funcIndex(i uint32) uint32 {
	if i >= w.funcImports {
		return i + 1
	}
	return i
}

// expr copies one expression (a function body's instructions or a
// constant expression) up to and including its final end. Unchanged runs
// of instructions are copied in one piece.
func (w *rewriter) expr(r *reader, out []byte, body bool) ([]byte, error) {
	depth := 0
	copied := r.off // r.b[copied:r.off] is read but not yet copied
	for {
		start := r.off
		op, err := r.byte()
		if err != nil {
			return nil, err
		}
		switch {
		case op == opCall || op == opReturnCall || op == opRefFunc:
			i, err := r.u32()
			if err != nil {
				return nil, err
			}
			out = append(out, r.b[copied:start]...)
			out = appendU32(append(out, op), w.funcIndex(i))
			copied = r.off
		case op == opLoop:
			if err := blockType(r); err != nil {
				return nil, err
			}
			if body {
				out = append(out, r.b[copied:r.off]...)
				out = append(out, w.check...)
				copied = r.off
			}
			depth++
		case op == opBlock || op == opIf:
			err = blockType(r)
			depth++
		case op == opTryTable:
			err = tryTable(r)
			depth++
		case op == opEnd:
			if depth == 0 {
				return append(out, r.b[copied:r.off]...), nil
			}
			depth--
		default:
			err = immediates(r, op)
		}
		if err != nil {
			return nil, err
		}
	}
}

// blockType steps over a block type: empty (0x40), a value type, or a
// type index as a signed 33-bit LEB128.
func blockType(r *reader) error {
	if r.done() {
		return r.errorf("block type: %v", errTruncated)
	}
	switch c := r.b[r.off]; c {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		r.off++
		return nil
	}
	return r.sleb(33)
}

func tryTable(r *reader) error {
	if err := blockType(r); err != nil {
		return err
	}
	n, err := r.u32()
	if err != nil {
		return err
	}
	for range n {
		kind, err := r.byte()
		if err != nil {
			return err
		}
		if kind == 0x00 || kind == 0x01 { // catch, catch_ref: tag index first
			if _, err := r.u32(); err != nil {
				return err
			}
		} else if kind > 0x03 {
			return r.errorf("try_table: unknown catch kind %#x", kind)
		}
		if _, err := r.u32(); err != nil { // label
			return err
		}
	}
	return nil
}

// immediates steps over the immediates of every other instruction of the
// core specification 2.0 and of the threads, tail-call and
// exception-handling proposals.
func immediates(r *reader, op byte) error {
	switch {
	case op <= 0x01, op == opElse, op == 0x0a, op == 0x0f, op == 0x1a, op == 0x1b,
		op >= opNumericFirst && op <= opNumericLast, op == opRefIsNull:
		return nil // none
	case op == opThrow, op == opBr, op == opBrIf, op >= opLocalGet && op <= opGlobalSet,
		op == opTableGet, op == opTableSet, op == opMemorySize, op == opMemoryGrow:
		_, err := r.u32()
		return err
	case op == opBrTable:
		n, err := r.u32()
		if err != nil {
			return err
		}
		for range n + 1 {
			if _, err := r.u32(); err != nil {
				return err
			}
		}
		return nil
	case op == opCallIndirect || op == opReturnCallIndirect:
		if _, err := r.u32(); err != nil {
			return err
		}
		_, err := r.u32()
		return err
	case op == opSelectTyped:
		n, err := r.u32()
		if err != nil {
			return err
		}
		_, err = r.bytes(int(n))
		return err
	case op >= opLoadFirst && op <= opStoreLast:
		return memArg(r)
	case op == opI32Const:
		return r.sleb(32)
	case op == opI64Const:
		return r.sleb(64)
	case op == opF32Const:
		_, err := r.bytes(4)
		return err
	case op == opF64Const:
		_, err := r.bytes(8)
		return err
	case op == opRefNull:
		return blockType(r) // a heap type: one byte, or an index as s33
	case op == opPrefixMisc:
		return miscImmediates(r)
	case op == opPrefixSIMD:
		return simdImmediates(r)
	case op == opPrefixAtomic:
		return atomicImmediates(r)
	}
	return r.errorf("unknown opcode %#x", op)
}

// memArg steps over an alignment (with the multi-memory flag, a memory
// index follows) and an offset.
func memArg(r *reader) error {
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	_, err = r.uleb(64)
	return err
}

// miscImmediates: the 0xfc prefix (saturating truncation, bulk memory,
// tables).
func miscImmediates(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	indices := 0
	switch {
	case sub <= 7: // trunc_sat
	case sub == 9, sub == 11, sub == 13, sub >= 15 && sub <= 17:
		indices = 1 // data.drop, memory.fill, elem.drop, table.grow/size/fill
	case sub == 8, sub == 10, sub == 12, sub == 14:
		indices = 2 // memory.init, memory.copy, table.init, table.copy
	default:
		return r.errorf("unknown instruction 0xfc %d", sub)
	}
	for range indices {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// simdImmediates: the 0xfd prefix (fixed-width SIMD).
func simdImmediates(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 11, sub == 92, sub == 93: // loads and stores
		return memArg(r)
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		_, err := r.bytes(16)
		return err
	case sub >= 21 && sub <= 34: // extract_lane, replace_lane
		_, err := r.byte()
		return err
	case sub >= 84 && sub <= 91: // load_lane, store_lane
		if err := memArg(r); err != nil {
			return err
		}
		_, err := r.byte()
		return err
	case sub <= 275:
		return nil
	}
	return r.errorf("unknown instruction 0xfd %d", sub)
}

// atomicImmediates: the 0xfe prefix (threads).
func atomicImmediates(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub == 3: // atomic.fence
		_, err := r.byte()
		return err
	case sub <= 0x4e:
		return memArg(r)
	}
	return r.errorf("unknown instruction 0xfe %#x", sub)
}

// body copies one function body: its locals, then its instructions.
func (w *rewriter) body(r *reader, out []byte) ([]byte, error) {
	start := r.off
	groups, err := r.u32()
	if err != nil {
		return nil, err
	}
	for range groups {
		if _, err := r.u32(); err != nil {
			return nil, err
		}
		if _, err := r.byte(); err != nil {
			return nil, err
		}
	}
	out = append(out, r.b[start:r.off]...)
	out, err = w.expr(r, out, true)
	if err != nil {
		return nil, err
	}
	if !r.done() {
		return nil, r.errorf("%d bytes after the body's end", len(r.b)-r.off)
	}
	return out, nil
}

func errFunc(i int, err error) error {
	return fmt.Errorf("function body %d: %w", i, err)
}
