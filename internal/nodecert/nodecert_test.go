package nodecert

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wask-dev/wask/internal/testcluster"
)

func TestLoadOrRequest(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "mesh")
	node := c.NodeClient(t, "node-1")
	now := time.Now()

	first, err := LoadOrRequest(ctx, node, dir, "node-1", now)
	if err != nil {
		t.Fatal(err)
	}
	if first.NotAfter.Before(now.Add(300 * 24 * time.Hour)) {
		t.Errorf("NotAfter %v: want about a year", first.NotAfter)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v; want mode 0600", st.Mode(), err)
	}
	// Loaded, not reissued.
	again, err := LoadOrRequest(ctx, node, dir, "node-1", now)
	if err != nil || string(again.Cert.Certificate[0]) != string(first.Cert.Certificate[0]) {
		t.Fatalf("second call reissued: %v", err)
	}
	// Close to expiry: a new one.
	later, err := LoadOrRequest(ctx, node, dir, "node-1", first.NotAfter.Add(-24*time.Hour))
	if err != nil || string(later.Cert.Certificate[0]) == string(first.Cert.Certificate[0]) {
		t.Fatalf("not renewed before expiry: %v", err)
	}
	// Due for renewal, the control plane refuses: the valid one stays in use.
	bad := c.ClientConfig()
	bad.Token = "wrong"
	kept, err := LoadOrRequest(ctx, c.NewClient(t, bad), dir, "node-1", later.NotAfter.Add(-24*time.Hour))
	if err != nil || string(kept.Cert.Certificate[0]) != string(later.Cert.Certificate[0]) {
		t.Fatalf("renewal failure: %v; want the certificate on disk", err)
	}
	// The directory holds another node's certificate: asks for its own.
	other, err := LoadOrRequest(ctx, c.NodeClient(t, "node-2"), dir, "node-2", now)
	if err != nil {
		t.Fatal(err)
	}
	if string(other.Cert.Certificate[0]) == string(later.Cert.Certificate[0]) {
		t.Fatal("node-2 got node-1's certificate")
	}
	// No credential: a clear error.
	if _, err := LoadOrRequest(ctx, c.NewClient(t, bad), t.TempDir(), "node-3", now); err == nil {
		t.Fatal("issued with a bad token")
	}
}
