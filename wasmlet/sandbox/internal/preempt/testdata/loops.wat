;; The module preempt_test.go instruments: loops, calls, an imported
;; function, a table with an element segment, a start function, a global
;; holding a ref.func, and (with --debug-names) a name section.
;; Regenerate: wat2wasm --debug-names loops.wat -o loops.wasm
(module
  (type $i2i (func (param i32) (result i32)))
  (import "env" "note" (func $note (param i32)))
  (global $started (mut i32) (i32.const 0))
  (global $ref funcref (ref.func $count))
  (table 2 funcref)
  (elem (i32.const 0) $count $twice)
  (func $count (export "count") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (call $note (local.get $i))
    (local.get $i))
  (func $twice (export "twice") (param $n i32) (result i32)
    (i32.mul (call $count (local.get $n)) (i32.const 2)))
  (func $indirect (export "indirect") (param $slot i32) (param $n i32) (result i32)
    (call_indirect (type $i2i) (local.get $n) (local.get $slot)))
  (func $spin (export "spin")
    (loop $l (br $l)))
  (func $start
    (global.set $started (call $count (i32.const 3))))
  (start $start)
  (func (export "started") (result i32) (global.get $started))
  (func (export "ref_is_null") (result i32)
    (ref.is_null (global.get $ref))))
