// Command wask is the one binary of wask: the daemons (up, server, node)
// and the kubectl-like client (apply, get, describe, delete, push).
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
