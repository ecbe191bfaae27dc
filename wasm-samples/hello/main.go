//go:build wasip1

// Command hello prints a greeting (with its arguments, if any) and exits 0.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	who := "world"
	if len(os.Args) > 1 {
		who = strings.Join(os.Args[1:], " ")
	}
	fmt.Printf("hello, %s, from %s\n", who, os.Getenv("WASK_POD_NAME"))
}
