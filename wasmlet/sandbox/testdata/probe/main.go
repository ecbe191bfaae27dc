//go:build wasip1

// Command probe reports what its sandbox lets it do, one action per
// argument pair, for the sandbox's capability tests. Each action prints
// one line "action: result" or "action: error: ..." to stdout.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	wask "github.com/wask-dev/wask/wasm-samples/sdk"
)

func main() {
	args := os.Args[1:]
	for len(args) > 0 {
		act := args[0]
		args = args[1:]
		arg := func() string {
			a := args[0]
			args = args[1:]
			return a
		}
		switch act {
		case "env":
			fmt.Printf("env: %s\n", strings.Join(os.Environ(), ","))
		case "args":
			fmt.Printf("args: %s\n", strings.Join(os.Args, ","))
		case "time":
			fmt.Printf("time: %d\n", time.Now().Unix())
		case "sleep":
			d, _ := time.ParseDuration(arg())
			t0 := time.Now()
			time.Sleep(d)
			fmt.Printf("sleep: %d\n", time.Since(t0).Milliseconds())
		case "rand":
			b := make([]byte, 16)
			rand.Read(b)
			fmt.Printf("rand: %s\n", hex.EncodeToString(b))
		case "read":
			b, err := os.ReadFile(arg())
			report("read", string(b), err)
		case "write":
			p := arg()
			report("write", "ok", os.WriteFile(p, []byte(arg()), 0o644))
		case "ls":
			es, err := os.ReadDir(arg())
			var names []string
			for _, e := range es {
				names = append(names, e.Name())
			}
			report("ls", strings.Join(names, ","), err)
		case "get":
			resp, err := wask.Client.Get(arg())
			if err != nil {
				report("get", "", err)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			fmt.Printf("get: %d %s %s\n", resp.StatusCode, resp.Header.Get("X-Test"), b)
		case "log":
			wask.Log(arg())
		case "exit":
			var code int
			fmt.Sscan(arg(), &code)
			os.Exit(code)
		default:
			fmt.Fprintf(os.Stderr, "probe: unknown action %q\n", act)
			os.Exit(2)
		}
	}
}

func report(act, ok string, err error) {
	if err != nil {
		fmt.Printf("%s: error: %v\n", act, err)
		return
	}
	fmt.Printf("%s: %s\n", act, ok)
}
