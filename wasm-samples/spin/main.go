//go:build wasip1

// Command spin burns CPU forever, never calling the host: only its
// deadline stops it.
package main

import "fmt"

var sink uint64

func main() {
	fmt.Println("spin: spinning")
	x := uint64(1)
	for {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		sink = x
	}
}
