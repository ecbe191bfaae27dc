package suite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// sourceRoot finds wask's source tree: the working directory or a parent
// with wask's go.mod. Peers and (for `go run ./bench`) the wask binary are
// built from it.
func sourceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/wask-dev/wask\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside wask's source tree (no go.mod of github.com/wask-dev/wask above the working directory)")
		}
		dir = parent
	}
}

// buildPeer builds bench/peers/<name> (a package of the bench/peers
// module, or a module of its own) into the scenario's directory and
// returns its path, or "" and why it could not.
func buildPeer(ctx context.Context, env *Env, name string) (path, why string) {
	root, err := sourceRoot()
	if err != nil {
		return "", err.Error()
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "", "building the peer needs the go command"
	}
	env.Progress("building the %s peer (bench/peers: its own module)", name)
	out := filepath.Join(env.dir, name)
	dir, pkg := filepath.Join(root, "bench", "peers"), "./"+name
	if _, err := os.Stat(filepath.Join(dir, name, "go.mod")); err == nil {
		dir, pkg = filepath.Join(dir, name), "." // a module of its own (kubesched: Kubernetes' dependencies)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("go build ./bench/peers/%s: %v: %s", name, err, lastLine(string(b)))
	}
	return out, ""
}

// waskBinary returns Options.Wask, or builds ./cmd/wask.
func waskBinary(ctx context.Context, env *Env) (string, error) {
	if env.Opts.Wask != "" {
		return env.Opts.Wask, nil
	}
	root, err := sourceRoot()
	if err != nil {
		return "", fmt.Errorf("a wask binary is needed: %w", err)
	}
	env.Progress("building wask")
	out := filepath.Join(env.dir, "wask")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/wask")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/wask: %v: %s", err, lastLine(string(b)))
	}
	return out, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func errorsJoin(errs ...error) error { return errors.Join(errs...) }

// discardLogger drops the logs of parts run in-process.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
