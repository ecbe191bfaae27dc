package suite

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// goServer is a plain Go HTTP server answering every request with body:
// what haproxy and nginx proxy to, and the proxies' own baseline.
func goServer(body string) (addr string, stop func(), err error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(lis)
	return lis.Addr().String(), func() { srv.Close() }, nil
}

// freePort returns a loopback address nothing listens on (yet).
func freePort() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer lis.Close()
	return lis.Addr().String(), nil
}

// proxyPeer starts haproxy or nginx (Debian's packages) in front of
// backend and returns its address; "" and why when it is not installed.
func proxyPeer(ctx context.Context, dir, name, backend string) (addr string, stop func(), why string) {
	bin, err := exec.LookPath(name)
	if err != nil {
		for _, d := range []string{"/usr/sbin", "/usr/local/sbin"} {
			if _, err2 := os.Stat(filepath.Join(d, name)); err2 == nil {
				bin, err = filepath.Join(d, name), nil
			}
		}
	}
	if err != nil {
		return "", nil, name + " is not installed (apt-get install " + name + ")"
	}
	if addr, err = freePort(); err != nil {
		return "", nil, err.Error()
	}
	dir = filepath.Join(dir, name)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	var args []string
	switch name {
	case "haproxy":
		cfg := fmt.Sprintf(`global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend in
  bind %s
  default_backend out
backend out
  http-reuse always
  server go %s
`, addr, backend)
		os.WriteFile(filepath.Join(dir, "haproxy.cfg"), []byte(cfg), 0o644)
		args = []string{"-db", "-f", filepath.Join(dir, "haproxy.cfg")}
	case "nginx":
		cfg := fmt.Sprintf(`worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream go { server %[3]s; keepalive 64; }
  server {
    listen %[2]s;
    location / { proxy_pass http://go; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`, dir, addr, backend)
		os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(cfg), 0o644)
		args = []string{"-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;"}
	}
	p, err := startProc(bin, dir, args...)
	if err != nil {
		return "", nil, err.Error()
	}
	stop = func() { p.stop(5 * time.Second) }
	if err := waitFor(ctx, 10*time.Second, name+" listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}); err != nil {
		stop()
		return "", nil, fmt.Sprintf("%s did not start: %v: %s", name, err, lastLine(p.out.String()))
	}
	return addr, stop, ""
}
