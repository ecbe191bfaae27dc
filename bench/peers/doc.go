// Package peers holds the benchmark suite's peers that need modules the
// main module should not carry (etcd): its own Go module, so `go build
// ./...` and `go test ./...` of wask never fetch or build them. The suite
// builds each peer's command and runs it per round (bench/suite).
package peers
