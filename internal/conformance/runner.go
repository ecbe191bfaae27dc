package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// Runner runs tests as command pods. Required: Client, Push, WorkDir.
type Runner struct {
	Client *client.Client
	// Push uploads a module file and returns its digest ("sha256:...").
	Push func(ctx context.Context, path string) (string, error)
	// WorkDir holds the fresh copy of each test's root directory. The
	// node mounts it by path, so it must be a directory the node sees at
	// the same path (on its machine) and allows pods to mount.
	WorkDir string
	// Namespace of the pods. Default "default".
	Namespace string
	// NodeName, if set, binds the pods to that node (no scheduler needed).
	NodeName string
	// Parallel is how many tests run at once. Default 4.
	Parallel int
	// Timeout bounds one test, from push to result. Default 2 minutes.
	Timeout time.Duration
	// Expectations lists the tests known to differ. Default none.
	Expectations Expectations
	// Progress, if set, gets a line per finished test.
	Progress io.Writer
}

// Outcome of one test.
type Outcome string

const (
	Pass Outcome = "PASS"
	Fail Outcome = "FAIL"
	// ExpectedFail is a listed test that differed, as its listing says.
	ExpectedFail Outcome = "XFAIL"
	// UnexpectedPass is a listed test that passed.
	UnexpectedPass Outcome = "XPASS"
	// Error: the test could not be run (push, create, timeout).
	Error Outcome = "ERROR"
)

// Result is what one test did.
type Result struct {
	Test    Test
	Outcome Outcome
	// Diffs says what differed from the spec, one line each.
	Diffs []string
	// ExitCode, Log (stdout and stderr as the pod's log merged them),
	// Pod and Duration are what the run did.
	ExitCode int
	Log      string
	Pod      string
	Duration time.Duration
}

// Failed reports whether the result is a failure the caller should act on.
func (r Result) Failed() bool { return r.Outcome == Fail || r.Outcome == Error }

// Summary counts outcomes: "24 passed, 0 failed, 2 expected failures, 0
// unexpected passes, 0 errors (26 tests)".
func Summary(results []Result) string {
	n := map[Outcome]int{}
	for _, r := range results {
		n[r.Outcome]++
	}
	return fmt.Sprintf("%d passed, %d failed, %d expected failures, %d unexpected passes, %d errors (%d tests)",
		n[Pass], n[Fail], n[ExpectedFail], n[UnexpectedPass], n[Error], len(results))
}

// Run runs every test and returns their results in the order of tests.
func (r *Runner) Run(ctx context.Context, tests []Test) ([]Result, error) {
	if r.Client == nil || r.Push == nil || r.WorkDir == "" {
		return nil, fmt.Errorf("conformance: Runner needs Client, Push and WorkDir")
	}
	if r.Namespace == "" {
		r.Namespace = "default"
	}
	if r.Parallel <= 0 {
		r.Parallel = 4
	}
	if r.Timeout <= 0 {
		r.Timeout = 2 * time.Minute
	}
	var nonce [3]byte
	rand.Read(nonce[:])
	run := hex.EncodeToString(nonce[:])
	results := make([]Result, len(tests))
	sem := make(chan struct{}, r.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, t := range tests {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res := r.runOne(ctx, t, fmt.Sprintf("wasi-%s-%d-%s", run, i, podSafe(t.Name)))
			results[i] = res
			if r.Progress != nil {
				mu.Lock()
				fmt.Fprintln(r.Progress, res.Line())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return results, ctx.Err()
}

// Line is the result in one line: "PASS suite/name (12ms)" or "FAIL
// suite/name: exit code 1, want 0; ...".
func (r Result) Line() string {
	s := fmt.Sprintf("%-5s %s (%s)", r.Outcome, r.Test.ID(), r.Duration.Round(time.Millisecond))
	if len(r.Diffs) > 0 {
		s += ": " + strings.Join(r.Diffs, "; ")
	}
	return s
}

var unsafePodChars = regexp.MustCompile(`[^a-z0-9-]+`)

// podSafe makes a test name usable in a pod name (DNS-1123 label, short).
func podSafe(name string) string {
	s := strings.Trim(unsafePodChars.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	return s
}

func (r *Runner) runOne(ctx context.Context, t Test, podName string) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	res := Result{Test: t, Pod: podName}
	code, log, err := r.execute(ctx, t, podName)
	res.Duration = time.Since(start)
	if err != nil {
		res.Outcome, res.Diffs = Error, []string{err.Error()}
		return res
	}
	res.ExitCode, res.Log = code, log
	res.Diffs = compare(t, code, log)
	listed := r.Expectations.Lists(t)
	switch {
	case len(res.Diffs) == 0 && listed:
		res.Outcome = UnexpectedPass
	case len(res.Diffs) == 0:
		res.Outcome = Pass
	case listed:
		res.Outcome = ExpectedFail
	default:
		res.Outcome = Fail
	}
	return res
}

// compare says what of the run differs from the test's spec.
func compare(t Test, code int, log string) []string {
	var diffs []string
	if code != t.ExitCode {
		diffs = append(diffs, fmt.Sprintf("exit code %d, want %d", code, t.ExitCode))
	}
	// The pod's log merges stdout and stderr in the order written.
	if t.Stdout != nil && t.Stderr != nil {
		if want := *t.Stdout + *t.Stderr; log != want && log != *t.Stderr+*t.Stdout {
			diffs = append(diffs, fmt.Sprintf("stdout+stderr %q, want stdout %q and stderr %q", log, *t.Stdout, *t.Stderr))
		}
	} else if t.Stdout != nil && log != *t.Stdout {
		diffs = append(diffs, fmt.Sprintf("output %q, want stdout %q", log, *t.Stdout))
	} else if t.Stderr != nil && log != *t.Stderr {
		diffs = append(diffs, fmt.Sprintf("output %q, want stderr %q", log, *t.Stderr))
	}
	return diffs
}

// execute runs t as pod podName and returns its exit code and log; the
// pod and its copy of the root are removed after.
func (r *Runner) execute(ctx context.Context, t Test, podName string) (int, string, error) {
	digest, err := r.Push(ctx, t.Wasm)
	if err != nil {
		return 0, "", fmt.Errorf("push %s: %w", t.Wasm, err)
	}
	spec := &waskv1.PodSpec{
		Module:        digest,
		Mode:          "command",
		RestartPolicy: "Never",
		NodeName:      r.NodeName,
		Args:          t.Args,
		// The tests read clocks and randomness as a program on a host does,
		// and check their environment is exactly what the spec gives.
		Capabilities: &waskv1.PodCapabilities{Clock: true, Random: true},
		DownwardEnv:  new(false),
	}
	keys := make([]string, 0, len(t.Env))
	for k := range t.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		spec.Env = append(spec.Env, &waskv1.EnvVar{Name: k, Value: t.Env[k]})
	}
	if t.Root != "" {
		dir := filepath.Join(r.WorkDir, podName)
		if err := copyTree(t.Root, dir); err != nil {
			return 0, "", fmt.Errorf("copy %s: %w", t.Root, err)
		}
		defer os.RemoveAll(dir)
		rw := false
		spec.Mounts = []*waskv1.Mount{{HostPath: dir, Path: "/", ReadOnly: &rw}}
	}
	pod := &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: podName, Namespace: r.Namespace, Labels: map[string]string{"wask.dev/conformance": "true"}}, Spec: spec}
	if _, err := client.Create(ctx, r.Client, pod); err != nil {
		return 0, "", fmt.Errorf("create pod %s: %w", podName, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		client.Delete[*waskv1.Pod](dctx, r.Client, r.Namespace, podName, nil)
		cancel()
	}()
	done, err := r.waitFinished(ctx, podName)
	if err != nil {
		return 0, "", err
	}
	log, err := r.readLog(ctx, podName)
	if err != nil {
		return 0, "", err
	}
	term := done.GetStatus().GetLastTermination()
	if term == nil {
		return 0, "", fmt.Errorf("pod %s is %s without a termination state (%s: %s)", podName, done.GetStatus().GetPhase(), done.GetStatus().GetReason(), done.GetStatus().GetMessage())
	}
	if term.GetReason() != "Completed" && term.GetReason() != "Error" {
		return 0, "", fmt.Errorf("pod %s ended %s: %s", podName, term.GetReason(), term.GetMessage())
	}
	return int(term.GetExitCode()), log, nil
}

// waitFinished polls the pod until it succeeds or fails.
func (r *Runner) waitFinished(ctx context.Context, name string) (*waskv1.Pod, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		p, err := client.Get[*waskv1.Pod](ctx, r.Client, r.Namespace, name)
		if err != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("get pod %s: %w", name, err)
		}
		if ph := p.GetStatus().GetPhase(); ph == "Succeeded" || ph == "Failed" {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("pod %s did not finish within %s (phase %q: %s)", name, r.Timeout, p.GetStatus().GetPhase(), p.GetStatus().GetMessage())
		case <-tick.C:
		}
	}
}

func (r *Runner) readLog(ctx context.Context, name string) (string, error) {
	stream, err := r.Client.Logs.Logs(ctx, connect.NewRequest(&waskv1.LogsRequest{Namespace: r.Namespace, Name: name}))
	if err != nil {
		return "", fmt.Errorf("logs of pod %s: %w", name, err)
	}
	defer stream.Close()
	var b bytes.Buffer
	for stream.Receive() {
		b.Write(stream.Msg().GetData())
	}
	if err := stream.Err(); err != nil {
		return "", fmt.Errorf("logs of pod %s: %w", name, err)
	}
	return b.String(), nil
}

// copyTree copies the directory src to dst (made), leaving out the
// *.cleanup files earlier runs of the suite may have left.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case strings.HasSuffix(d.Name(), ".cleanup"):
			return nil
		case d.Type().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, info.Mode().Perm()|0o200)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		return nil
	})
}
