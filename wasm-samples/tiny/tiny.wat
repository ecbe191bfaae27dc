;; tiny: an http-reactor module written by hand (wasm-samples/ABI.md). It
;; answers every request with 200, Content-Type: text/plain and
;; "hello from tiny\n". It imports nothing.
(module
  (memory (export "memory") 1 1)

  ;; The response, encoded once: status 200, one header, the body.
  (data (i32.const 16)
    "\c8\00\00\00"                        ;; status 200
    "\01\00\00\00"                        ;; 1 header
    "\0c\00\00\00" "Content-Type"
    "\0a\00\00\00" "text/plain"
    "\10\00\00\00" "hello from tiny\0a")  ;; 58 bytes in all

  ;; Requests go to [1024, 65536): at most 64512 bytes, else 0 (refused).
  (func (export "wask_alloc") (param $size i32) (result i32)
    (select (i32.const 1024) (i32.const 0)
      (i32.le_u (local.get $size) (i32.const 64512))))

  ;; The response lives at 16, 58 bytes long: 16<<32 | 58.
  (func (export "wask_http_handle") (param $ptr i32) (param $len i32) (result i64)
    (i64.const 0x100000003a))

  ;; Probes: 0 is healthy.
  (func (export "wask_health") (result i32) (i32.const 0)))
