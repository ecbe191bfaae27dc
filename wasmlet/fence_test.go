package wasmlet_test

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/internal/testcluster"
	"github.com/wask-dev/wask/wasmlet"
)

// cuttableLink forwards TCP connections to an address until cut, and
// again after restore (on the same port): a network between a node and
// the control plane that the test can break.
type cuttableLink struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	lis    net.Listener
	conns  []net.Conn
}

func newCuttableLink(t *testing.T, target string) *cuttableLink {
	l := &cuttableLink{t: t, target: target, addr: "127.0.0.1:0"}
	l.restore()
	l.addr = l.lis.Addr().String()
	t.Cleanup(l.cut)
	return l
}

func (l *cuttableLink) restore() {
	lis, err := net.Listen("tcp", l.addr)
	if err != nil {
		l.t.Fatalf("link: %v", err)
	}
	l.mu.Lock()
	l.lis = lis
	l.mu.Unlock()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", l.target)
			if err != nil {
				c.Close()
				continue
			}
			l.mu.Lock()
			l.conns = append(l.conns, c, up)
			l.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut closes the listener and every connection through it.
func (l *cuttableLink) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lis.Close()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

func testFenceStopsPodsWithoutLease(t *testing.T) {
	u, err := url.Parse(shared.c.URL)
	if err != nil {
		t.Fatal(err)
	}
	link := newCuttableLink(t, u.Host)
	e := newEnv(t, testcluster.NodeOptions{Config: func(cfg *wasmlet.Config) {
		cfg.Client.Server = "https://" + link.addr
		cfg.LeaseRenewInterval = 50 * time.Millisecond
		cfg.FenceAfter = 300 * time.Millisecond
	}})
	e.createPod("web", "tiny", httpSpec("http-reactor"))
	e.waitPod("web", "Ready", func(p *waskv1.Pod) bool { return condStatus(p, "Ready") == "True" })
	waitNode := func(what string, cond func(wasmlet.Stats) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond(e.node.Stats()) {
			if time.Now().After(deadline) {
				t.Fatalf("node: not %s in 30s: %+v", what, e.node.Stats())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitNode("serving", func(s wasmlet.Stats) bool { return s.Serving == 1 })

	link.cut()
	waitNode("fenced (no pods)", func(s wasmlet.Stats) bool { return s.Pods == 0 })
	if rec := e.invoke("web", "/"); rec.Code == 200 {
		t.Fatalf("a fenced node still serves its pod")
	}

	link.restore()
	waitNode("serving again", func(s wasmlet.Stats) bool { return s.Serving == 1 })
	deadline := time.Now().Add(30 * time.Second)
	for rec := e.invoke("web", "/"); rec.Code != 200; rec = e.invoke("web", "/") {
		if time.Now().After(deadline) {
			t.Fatalf("the pod does not serve after the lease is renewed: %d %s", rec.Code, rec.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
