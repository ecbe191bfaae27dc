//go:build wasip1

// Command hog grows its memory 1 MiB at a time, touching every page, until
// the runtime refuses it more (the Go runtime then dies with "out of
// memory").
package main

import "fmt"

var keep [][]byte

func main() {
	for i := 1; ; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(i)
		}
		keep = append(keep, b)
		if i%16 == 0 {
			fmt.Printf("hog: holding %d MiB\n", i)
		}
	}
}
