//go:build wasip1

// Command fail writes a complaint to stderr and exits with code 3 (or the
// code given as its first argument): for restart back-off.
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	code := 3
	if len(os.Args) > 1 {
		if n, err := strconv.Atoi(os.Args[1]); err == nil {
			code = n
		}
	}
	fmt.Fprintf(os.Stderr, "fail: exiting with code %d\n", code)
	os.Exit(code)
}
