// Package preempt rewrites a WebAssembly module so that a host can stop it
// cheaply: a countdown at every loop header calls the host every Interval
// headers, and the host can zero the countdown to be called at the next.
//
// wazero's own way (RuntimeConfig.WithCloseOnContextDone) leaves the
// machine code for Go at every loop header to ask whether the instance was
// closed. Go's wasm backend puts a loop in every function, so a Go guest
// pays that exit (~75 ns) on every call: three quarters of a small
// request's time. Here a header costs a decrement and a branch, and the
// exit to Go — which is also what lets Go's scheduler preempt a spinning
// guest — happens once per Interval headers.
//
// The output imports one more function, Module.Name, () -> (), and
// exports its countdown, a mutable i32 global, as BudgetExport. Every
// function index at or above the number of imported functions moves up by
// one (calls, ref.func, exports, the start function, element segments and
// the name section follow); nothing else moves. DWARF sections, whose code
// offsets would be stale, are dropped.
package preempt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

const (
	// ImportModule and ImportName name the function the guest calls when
	// its countdown runs out. The host decides there whether the guest
	// goes on; if it returns, the countdown starts again from Interval.
	ImportModule = "wask:preempt"
	ImportName   = "check"
	// BudgetExport names the exported countdown. Setting it to 0 makes
	// the guest call the check at its next loop header.
	BudgetExport = "wask:preempt.budget"
)

// DefaultInterval is the number of loop headers between checks: ~10 µs of
// a tight loop, so a stop lands late by about that much and a check costs
// ~0.01 ns per header.
const DefaultInterval = 10_000

// Section ids, in the order the binary format requires (custom sections
// may sit anywhere; the tag section, 13, sits between memory and global).
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// order ranks the non-custom sections by where they must appear.
var order = map[byte]int{secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12, secData: 13}

var magic = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

type section struct {
	id       byte
	contents []byte
	off      int // of the contents in the input, for errors
}

// Instrument returns wasm rewritten as the package describes, checking at
// most every interval loop headers (DefaultInterval if 0). It fails on a
// malformed module, on instructions it does not know (beyond the core
// specification 2.0, threads, tail calls and exception handling), and on
// a module that already imports ImportModule.
func Instrument(wasm []byte, interval int32) ([]byte, error) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if !bytes.HasPrefix(wasm, magic) {
		return nil, errors.New("preempt: not a WebAssembly 1.0 binary (bad magic or version)")
	}
	r := &reader{b: wasm, off: len(magic)}
	var secs []section
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return nil, fmt.Errorf("preempt: %w", err)
		}
		n, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("preempt: section %d: %w", id, err)
		}
		off := r.off
		b, err := r.bytes(int(n))
		if err != nil {
			return nil, fmt.Errorf("preempt: section %d: %w", id, err)
		}
		if _, known := order[id]; !known && id != secCustom {
			return nil, fmt.Errorf("preempt: unknown section id %d at byte %#x", id, off)
		}
		secs = append(secs, section{id: id, contents: b, off: off})
	}
	m := &module{in: wasm, secs: secs, interval: interval}
	out, err := m.instrument()
	if err != nil {
		return nil, fmt.Errorf("preempt: %w", err)
	}
	return out, nil
}

type module struct {
	in       []byte
	secs     []section
	interval int32

	types         uint32 // function types, before the added one
	funcImports   uint32
	globalImports uint32
	globals       uint32 // defined globals, before the added one
	w             rewriter
}

// sub is a reader over a section's contents with offsets of the input.
func (m *module) sub(s section) *reader {
	return &reader{b: m.in[:s.off+len(s.contents)], off: s.off}
}

func (m *module) find(id byte) (section, bool) {
	for _, s := range m.secs {
		if s.id == id {
			return s, true
		}
	}
	return section{}, false
}

func (m *module) instrument() ([]byte, error) {
	if err := m.count(); err != nil {
		return nil, err
	}
	budget := m.globalImports + m.globals // the added global's index
	m.w = rewriter{funcImports: m.funcImports}
	m.w.check = checkSequence(budget, m.funcImports, m.interval)

	rewritten := map[byte][]byte{}
	var err error
	if rewritten[secType], err = m.typeSection(); err != nil {
		return nil, err
	}
	if rewritten[secImport], err = m.importSection(); err != nil {
		return nil, err
	}
	if rewritten[secGlobal], err = m.globalSection(); err != nil {
		return nil, err
	}
	if rewritten[secExport], err = m.exportSection(budget); err != nil {
		return nil, err
	}
	for _, id := range []byte{secStart, secElement, secCode} {
		s, ok := m.find(id)
		if !ok {
			continue
		}
		var f func(*reader) ([]byte, error)
		switch id {
		case secStart:
			f = m.startSection
		case secElement:
			f = m.elementSection
		case secCode:
			f = m.codeSection
		}
		if rewritten[id], err = f(m.sub(s)); err != nil {
			return nil, err
		}
	}

	// Loop checks add a few percent to a module: size for a quarter.
	out := append(make([]byte, 0, len(m.in)+len(m.in)/4), magic...)
	emit := func(id byte, b []byte) {
		out = appendU32(append(out, id), uint32(len(b)))
		out = append(out, b...)
	}
	// Sections the input lacks (type, import, global, export) go before
	// the first section that must follow them.
	pending := []byte{secType, secImport, secGlobal, secExport}
	flush := func(before int) {
		for len(pending) > 0 && order[pending[0]] < before {
			if _, ok := m.find(pending[0]); !ok {
				emit(pending[0], rewritten[pending[0]])
			}
			pending = pending[1:]
		}
	}
	for _, s := range m.secs {
		if s.id == secCustom {
			b, keep, err := m.customSection(s)
			if err != nil {
				return nil, err
			}
			if keep {
				emit(secCustom, b)
			}
			continue
		}
		flush(order[s.id])
		if b, ok := rewritten[s.id]; ok {
			emit(s.id, b)
		} else {
			emit(s.id, s.contents)
		}
	}
	flush(len(order) + 1)
	return out, nil
}

// checkSequence is what each loop header gets:
//
//	global.get $budget  i32.const 1  i32.sub  global.set $budget
//	global.get $budget  i32.const 0  i32.le_s
//	if  call $check  i32.const interval  global.set $budget  end
func checkSequence(budget, check uint32, interval int32) []byte {
	g := func(op byte) []byte { return appendU32([]byte{op}, budget) }
	var b []byte
	b = append(b, g(0x23)...)
	b = append(b, opI32Const, 1, 0x6b) // i32.sub
	b = append(b, g(opGlobalSet)...)
	b = append(b, g(0x23)...)
	b = append(b, opI32Const, 0, 0x4c, opIf, 0x40) // i32.le_s; if (empty)
	b = appendU32(append(b, opCall), check)
	b = appendS32(append(b, opI32Const), interval)
	b = append(b, g(opGlobalSet)...)
	return append(b, opEnd)
}

// count reads what the index arithmetic needs: the number of types,
// imported functions and globals, and defined globals.
func (m *module) count() error {
	if s, ok := m.find(secType); ok {
		n, err := m.sub(s).u32()
		if err != nil {
			return fmt.Errorf("type section: %w", err)
		}
		m.types = n
	}
	if s, ok := m.find(secImport); ok {
		r := m.sub(s)
		n, err := r.u32()
		if err != nil {
			return fmt.Errorf("import section: %w", err)
		}
		for i := range n {
			mod, kind, err := importEntry(r)
			if err != nil {
				return fmt.Errorf("import %d: %w", i, err)
			}
			if mod == ImportModule {
				return fmt.Errorf("import %d: the module already imports from %q, which the instrumentation adds", i, ImportModule)
			}
			switch kind {
			case 0x00:
				m.funcImports++
			case 0x03:
				m.globalImports++
			}
		}
	}
	if s, ok := m.find(secGlobal); ok {
		n, err := m.sub(s).u32()
		if err != nil {
			return fmt.Errorf("global section: %w", err)
		}
		m.globals = n
	}
	return nil
}

// importEntry steps over one import and returns its module and kind.
func importEntry(r *reader) (string, byte, error) {
	mod, err := r.name()
	if err != nil {
		return "", 0, err
	}
	if _, err := r.name(); err != nil {
		return "", 0, err
	}
	kind, err := r.byte()
	if err != nil {
		return "", 0, err
	}
	switch kind {
	case 0x00: // function: type index
		_, err = r.u32()
	case 0x01: // table: reference type, limits
		if _, err = r.byte(); err == nil {
			err = limits(r)
		}
	case 0x02: // memory: limits
		err = limits(r)
	case 0x03: // global: value type, mutability
		_, err = r.bytes(2)
	case 0x04: // tag: attribute, type index
		if _, err = r.byte(); err == nil {
			_, err = r.u32()
		}
	default:
		err = r.errorf("unknown import kind %#x", kind)
	}
	return mod, kind, err
}

func limits(r *reader) error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if _, err := r.uleb(64); err != nil {
		return err
	}
	if flags&1 != 0 {
		_, err = r.uleb(64)
	}
	return err
}

// vector returns a section's contents with its count raised by one and
// extra appended: the sections that only grow.
func (m *module) vector(id byte, extra []byte) ([]byte, error) {
	s, ok := m.find(id)
	if !ok {
		return append(appendU32(nil, 1), extra...), nil
	}
	r := m.sub(s)
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n+1)
	out = append(out, r.b[r.off:]...)
	return append(out, extra...), nil
}

func (m *module) typeSection() ([]byte, error) {
	return m.vector(secType, []byte{0x60, 0x00, 0x00}) // func () -> ()
}

func (m *module) importSection() ([]byte, error) {
	e := appendName(appendName(nil, ImportModule), ImportName)
	return m.vector(secImport, appendU32(append(e, 0x00), m.types))
}

func (m *module) globalSection() ([]byte, error) {
	s, ok := m.find(secGlobal)
	out := appendU32(nil, m.globals+1)
	if ok {
		// Initialisers may hold ref.func: copy them through the rewriter.
		r := m.sub(s)
		if _, err := r.u32(); err != nil {
			return nil, err
		}
		for i := range m.globals {
			start := r.off
			if _, err := r.bytes(2); err != nil { // value type, mutability
				return nil, fmt.Errorf("global %d: %w", i, err)
			}
			out = append(out, r.b[start:r.off]...)
			var err error
			if out, err = m.w.expr(r, out, false); err != nil {
				return nil, fmt.Errorf("global %d: %w", i, err)
			}
		}
	}
	out = append(out, 0x7f, 0x01, opI32Const) // i32, mutable
	out = appendS32(out, m.interval)
	return append(out, opEnd), nil
}

func (m *module) exportSection(budget uint32) ([]byte, error) {
	extra := appendU32(append(appendName(nil, BudgetExport), 0x03), budget)
	s, ok := m.find(secExport)
	if !ok {
		return append(appendU32(nil, 1), extra...), nil
	}
	r := m.sub(s)
	n, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("export section: %w", err)
	}
	out := appendU32(nil, n+1)
	for i := range n {
		name, err := r.name()
		if err != nil {
			return nil, fmt.Errorf("export %d: %w", i, err)
		}
		if name == BudgetExport {
			return nil, fmt.Errorf("export %d: the module already exports %q, which the instrumentation adds", i, name)
		}
		kind, err := r.byte()
		if err != nil {
			return nil, fmt.Errorf("export %q: %w", name, err)
		}
		idx, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("export %q: %w", name, err)
		}
		if kind == 0x00 {
			idx = m.w.funcIndex(idx)
		}
		out = appendU32(append(appendName(out, name), kind), idx)
	}
	return append(out, extra...), nil
}

func (m *module) startSection(r *reader) ([]byte, error) {
	i, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("start section: %w", err)
	}
	return appendU32(nil, m.w.funcIndex(i)), nil
}

// elementSection renumbers the functions of every element segment, in
// each of the eight encodings (flags 0-7).
func (m *module) elementSection(r *reader) ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("element section: %w", err)
	}
	out := appendU32(nil, n)
	for i := range n {
		if out, err = m.elementSegment(r, out); err != nil {
			return nil, fmt.Errorf("element segment %d: %w", i, err)
		}
	}
	return out, nil
}

func (m *module) elementSegment(r *reader, out []byte) ([]byte, error) {
	flags, err := r.u32()
	if err != nil {
		return nil, err
	}
	if flags > 7 {
		return nil, r.errorf("unknown element segment flags %d", flags)
	}
	out = appendU32(out, flags)
	start := r.off
	if flags&2 != 0 && flags&1 == 0 { // an explicit table index
		if _, err := r.u32(); err != nil {
			return nil, err
		}
	}
	out = append(out, r.b[start:r.off]...)
	if flags&1 == 0 { // active: an offset expression
		if out, err = m.w.expr(r, out, false); err != nil {
			return nil, err
		}
	}
	if flags&3 != 0 { // an element kind (0x00) or reference type
		c, err := r.byte()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	count, err := r.u32()
	if err != nil {
		return nil, err
	}
	out = appendU32(out, count)
	for range count {
		if flags&4 != 0 {
			if out, err = m.w.expr(r, out, false); err != nil {
				return nil, err
			}
			continue
		}
		i, err := r.u32()
		if err != nil {
			return nil, err
		}
		out = appendU32(out, m.w.funcIndex(i))
	}
	return out, nil
}

func (m *module) codeSection(r *reader) ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("code section: %w", err)
	}
	size := len(r.b) - r.off
	out := appendU32(make([]byte, 0, size+size/4), n)
	var body []byte
	for i := range int(n) {
		size, err := r.u32()
		if err != nil {
			return nil, errFunc(i, err)
		}
		end := r.off + int(size)
		if int(size) > len(r.b)-r.off {
			return nil, errFunc(i, r.errorf("body of %d bytes: %v", size, errTruncated))
		}
		br := &reader{b: r.b[:end], off: r.off}
		if body, err = m.w.body(br, body[:0]); err != nil {
			return nil, errFunc(i, err)
		}
		out = append(appendU32(out, uint32(len(body))), body...)
		r.off = end
	}
	return out, nil
}

// customSection keeps custom sections, renumbering the function indices
// of the name section and dropping DWARF (".debug_*"), whose code offsets
// the rewrite moved.
func (m *module) customSection(s section) ([]byte, bool, error) {
	r := m.sub(s)
	name, err := r.name()
	if err != nil {
		return nil, false, fmt.Errorf("custom section: %w", err)
	}
	switch {
	case strings.HasPrefix(name, ".debug_"):
		return nil, false, nil
	case name != "name":
		return s.contents, true, nil
	}
	out, err := m.nameSection(r, appendName(nil, name))
	if err != nil {
		// The name section is advisory (a malformed one does not fail
		// validation): drop it rather than the module.
		return nil, false, nil
	}
	return out, true, nil
}

// nameSection renumbers the function names (subsection 1) and the local
// and label names (2 and 3: maps keyed by function index).
func (m *module) nameSection(r *reader, out []byte) ([]byte, error) {
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		b, err := r.bytes(int(size))
		if err != nil {
			return nil, err
		}
		if id < 1 || id > 3 {
			out = append(appendU32(append(out, id), size), b...)
			continue
		}
		sr := &reader{b: b}
		n, err := sr.u32()
		if err != nil {
			return nil, err
		}
		sub := appendU32(nil, n)
		for range n {
			fi, err := sr.u32()
			if err != nil {
				return nil, err
			}
			sub = appendU32(sub, m.w.funcIndex(fi))
			start := sr.off
			if id == 1 {
				_, err = sr.name()
			} else {
				err = skipNameMap(sr)
			}
			if err != nil {
				return nil, err
			}
			sub = append(sub, sr.b[start:sr.off]...)
		}
		out = append(appendU32(append(out, id), uint32(len(sub))), sub...)
	}
	return out, nil
}

func skipNameMap(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for range n {
		if _, err := r.u32(); err != nil {
			return err
		}
		if _, err := r.name(); err != nil {
			return err
		}
	}
	return nil
}
