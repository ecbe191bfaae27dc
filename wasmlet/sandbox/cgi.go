package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// serveCGI runs a fresh instance for the request: CGI/1.1 (RFC 3875)
// variables added to the Spec's environment, the body on stdin, and a CGI
// response read from stdout.
func (h *Handler) serveCGI(ctx context.Context, req *http.Request, body []byte) (wireResponse, error) {
	c := h.p.config
	for _, kv := range cgiEnv(req, len(body)) {
		c = c.WithEnv(kv[0], kv[1])
	}
	p := *h.p
	p.config = c
	stdout := &cappedBuffer{max: maxMessage}
	in, err := h.r.instantiate(ctx, h.m, &p, bytes.NewReader(body), stdout)
	if err != nil {
		return wireResponse{}, err
	}
	h.started.Add(1)
	h.mu.Lock()
	h.live++
	h.mu.Unlock()
	defer func() {
		in.close(context.WithoutCancel(ctx))
		h.mu.Lock()
		h.live--
		h.mu.Unlock()
	}()
	_, err = in.call(ctx, CommandExport)
	if err = h.exitErr("CGI run", err, in, ctx); err != nil {
		return wireResponse{}, err
	}
	if stdout.over {
		return wireResponse{}, fmt.Errorf("sandbox: %s: CGI response over %d bytes", h.p.name, maxMessage)
	}
	resp, err := parseCGI(stdout.b.Bytes())
	if err != nil {
		return wireResponse{}, fmt.Errorf("sandbox: %s: %w", h.p.name, err)
	}
	return resp, nil
}

// cgiEnv lists the CGI/1.1 meta-variables of req, as net/http/cgi's host
// side sets them.
func cgiEnv(req *http.Request, bodyLen int) [][2]string {
	host, port := req.Host, "80"
	if h, p, err := net.SplitHostPort(req.Host); err == nil {
		host, port = h, p
	}
	remoteIP, remotePort, _ := net.SplitHostPort(req.RemoteAddr)
	env := [][2]string{
		{"GATEWAY_INTERFACE", "CGI/1.1"},
		{"SERVER_SOFTWARE", "wask"},
		{"SERVER_PROTOCOL", "HTTP/1.1"},
		{"SERVER_NAME", host},
		{"SERVER_PORT", port},
		{"REQUEST_METHOD", req.Method},
		{"REQUEST_URI", req.URL.RequestURI()},
		{"SCRIPT_NAME", ""},
		{"PATH_INFO", req.URL.Path},
		{"QUERY_STRING", req.URL.RawQuery},
		{"REMOTE_ADDR", remoteIP},
		{"REMOTE_HOST", remoteIP},
		{"REMOTE_PORT", remotePort},
		{"HTTP_HOST", req.Host},
	}
	if req.TLS != nil {
		env = append(env, [2]string{"HTTPS", "on"})
	}
	for k, vs := range req.Header {
		k = strings.ToUpper(strings.ReplaceAll(k, "-", "_"))
		switch k {
		case "PROXY", "HOST":
			continue // httpoxy; HTTP_HOST is set above
		case "CONTENT_TYPE", "CONTENT_LENGTH":
			env = append(env, [2]string{k, strings.Join(vs, ", ")})
			continue
		}
		sep := ", "
		if k == "COOKIE" {
			sep = "; "
		}
		env = append(env, [2]string{"HTTP_" + k, strings.Join(vs, sep)})
	}
	if bodyLen > 0 || req.ContentLength > 0 {
		env = append(env, [2]string{"CONTENT_LENGTH", strconv.Itoa(bodyLen)})
	}
	return env
}

// parseCGI reads a CGI response: header lines, a blank line, the body. A
// Status header gives the status; a Location without it means 302.
func parseCGI(out []byte) (wireResponse, error) {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(out)))
	mh, err := r.ReadMIMEHeader()
	if err != nil {
		return wireResponse{}, fmt.Errorf("reading the CGI response header: %w", err)
	}
	h := http.Header(mh)
	status := http.StatusOK
	if s := h.Get("Status"); s != "" {
		code, _, _ := strings.Cut(s, " ")
		status, err = strconv.Atoi(code)
		if err != nil || status < 100 || status > 999 {
			return wireResponse{}, fmt.Errorf("CGI response: bad Status %q", s)
		}
		h.Del("Status")
	} else if h.Get("Location") != "" {
		status = http.StatusFound
	}
	if len(h) == 0 {
		return wireResponse{}, fmt.Errorf("CGI response: no header (did the guest write a CGI response?)")
	}
	var body bytes.Buffer
	if _, err := body.ReadFrom(r.R); err != nil {
		return wireResponse{}, err
	}
	return wireResponse{status: status, header: h, body: body.Bytes()}, nil
}

// cappedBuffer keeps at most max bytes and notes that more came.
type cappedBuffer struct {
	b    bytes.Buffer
	max  int
	over bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.b.Len()+len(p) > c.max {
		c.over = true
		return 0, fmt.Errorf("CGI response over %d bytes", c.max)
	}
	return c.b.Write(p)
}
