;; A minimal http-reactor module: imports a wask host function, defines a
;; bounded memory, and exports the reactor entry points.
(module
  (import "wask" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1 4)
  (func (export "_initialize"))
  (func (export "wask_http_handle") (param i32) (result i32) (i32.const 0)))
