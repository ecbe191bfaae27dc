package wasmlet_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/wask-dev/wask/apiserver"
	"github.com/wask-dev/wask/internal/pki"
	"github.com/wask-dev/wask/internal/token"
	"github.com/wask-dev/wask/store"
)

// exampleControlPlane is what `wask server` runs, in-process for the
// example: a store, an apiserver on loopback TLS, a CA and a join secret.
type exampleControlPlane struct {
	URL, JoinSecret string
	CA              []byte // PEM
	stop            func()
}

func (cp *exampleControlPlane) Stop() { cp.stop() }

func startExampleControlPlane() *exampleControlPlane {
	dir, err := os.MkdirTemp("", "wasmlet-example-")
	must(err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Config{Path: filepath.Join(dir, "store"), Logger: log, CompactionInterval: -1})
	must(err)
	ca, _, err := pki.LoadOrCreateCA(filepath.Join(dir, "pki"), "example-ca", time.Now())
	must(err)
	cert, err := ca.LoadOrIssueServerCert(filepath.Join(dir, "pki"), []string{"127.0.0.1"}, time.Now())
	must(err)
	srv, err := apiserver.New(apiserver.Config{Store: st, Logger: log})
	must(err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	secret := token.New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- srv.Serve(ctx, apiserver.ServeConfig{
			Listener: lis,
			TLS:      &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			Tokens:   apiserver.StaticTokens{Admin: token.New(), NodeJoin: secret},
		})
	}()
	return &exampleControlPlane{
		URL: "https://" + lis.Addr().String(), JoinSecret: secret, CA: ca.CertPEM,
		stop: func() {
			cancel()
			<-done
			st.Close()
			os.RemoveAll(dir)
		},
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
