;; A command whose memory starts at 20 pages (1.25 MiB).
(module (memory 20) (func (export "_start")))
