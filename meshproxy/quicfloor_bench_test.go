package meshproxy

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// The floor under the tunnel: a bare quic-go round trip (a stream per
// request, 64 bytes each way, mutual TLS as the tunnel's) with the echo
// server in this process and in another. meshproxy/README.md compares the
// cross-node hop with it.
//
//	go test -run XXX -bench QUICRoundTrip -benchtime 20000x ./meshproxy/
func BenchmarkQUICRoundTrip(b *testing.B) {
	p := newTestPKI(b)
	b.Run("in-process", func(b *testing.B) {
		addr := serveQUICEcho(b, p.node(b, "node-b"))
		benchQUICEcho(b, p.node(b, "node-a"), addr)
	})
	b.Run("across-processes", func(b *testing.B) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestQUICEchoServer$")
		cmd.Env = append(os.Environ(), "WASK_QUIC_ECHO=1")
		stdin, err := cmd.StdinPipe() // the child serves until it closes
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { stdin.Close(); cmd.Wait() }()
		sc := bufio.NewScanner(stdout)
		var addr string
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "quic-echo "); ok {
				addr = a
				break
			}
		}
		if addr == "" {
			b.Fatal("the echo process printed no address")
		}
		go io.Copy(io.Discard, stdout)
		benchQUICEcho(b, p.node(b, "node-a"), addr)
	})
}

// TestQUICEchoServer is BenchmarkQUICRoundTrip's other process: it prints
// its address and echoes until its stdin closes. Skipped unless
// WASK_QUIC_ECHO is set.
func TestQUICEchoServer(t *testing.T) {
	if os.Getenv("WASK_QUIC_ECHO") == "" {
		t.Skip("the echo server of BenchmarkQUICRoundTrip (set WASK_QUIC_ECHO)")
	}
	addr := serveQUICEcho(t, newTestPKI(t).node(t, "node-b"))
	os.Stdout.WriteString("quic-echo " + addr + "\n")
	io.Copy(io.Discard, os.Stdin)
}

// serveQUICEcho answers each stream with what it read, until the test ends.
func serveQUICEcho(t testing.TB, nt NodeTLS) string {
	tc := nt.serverTLS()
	tc.ClientAuth, tc.VerifyConnection = 0, nil // the other process has its own CA
	ln, err := quic.ListenAddr("127.0.0.1:0", tc, quicConfig(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			go func() {
				for {
					str, err := conn.AcceptStream(context.Background())
					if err != nil {
						return
					}
					go func() {
						b, _ := io.ReadAll(str)
						str.Write(b)
						str.Close()
					}()
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func benchQUICEcho(b *testing.B, nt NodeTLS, addr string) {
	tc := nt.clientTLS("node-b")
	tc.InsecureSkipVerify, tc.VerifyConnection = true, nil // the echo process made its own CA
	conn, err := quic.DialAddr(context.Background(), addr, tc, quicConfig(10*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	msg := make([]byte, 64)
	rt := func() error {
		str, err := conn.OpenStreamSync(context.Background())
		if err != nil {
			return err
		}
		if _, err := str.Write(msg); err != nil {
			return err
		}
		str.Close()
		_, err = io.ReadAll(str)
		return err
	}
	if err := rt(); err != nil { // connect outside the timing
		b.Fatal(err)
	}
	serialRoundTrips(b, rt)
}
