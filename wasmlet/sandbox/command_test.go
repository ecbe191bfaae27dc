package sandbox

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRunCommandHello(t *testing.T) {
	m := guest(t, "hello")
	exit, out, _ := run(t, m, Spec{Name: "hello", Env: map[string]string{"WASK_POD_NAME": "pod-a"}})
	mustExit(t, exit, ReasonCompleted, 0)
	if out != "hello, world, from pod-a\n" {
		t.Fatalf("stdout = %q", out)
	}
	exit, out, _ = run(t, m, Spec{Args: []string{"you", "all"}})
	mustExit(t, exit, ReasonCompleted, 0)
	if out != "hello, you all, from \n" {
		t.Fatalf("stdout = %q", out)
	}
}

func TestRunCommandFail(t *testing.T) {
	exit, _, errOut := run(t, guest(t, "fail"), Spec{})
	mustExit(t, exit, ReasonError, 3)
	if errOut != "fail: exiting with code 3\n" || exit.Err() == nil {
		t.Fatalf("stderr = %q, Err = %v", errOut, exit.Err())
	}
}

func TestRunCommandDeadline(t *testing.T) {
	exit, _, _ := run(t, guest(t, "spin"), Spec{Timeout: 100 * time.Millisecond})
	mustExit(t, exit, ReasonDeadlineExceeded, ExitCodeKilled)
	if !errors.Is(exit.Err(), ErrDeadline) {
		t.Fatalf("Err = %v", exit.Err())
	}
}

func TestRunCommandCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan Exit)
	go func() {
		exit, err := testRuntime(t).RunCommand(ctx, guest(t, "spin"), Spec{Stdout: &out})
		if err != nil {
			t.Error(err)
		}
		done <- exit
	}()
	// Cancel once the guest is spinning.
	deadline := time.Now().Add(30 * time.Second)
	for out.String() == "" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	mustExit(t, <-done, ReasonCanceled, ExitCodeKilled)
}

func TestRunCommandOOM(t *testing.T) {
	exit, out, _ := run(t, guest(t, "hog"), Spec{MemoryLimit: 64 << 20})
	if exit.Reason != ReasonOOMKilled || !errors.Is(exit.Err(), ErrMemoryLimit) {
		t.Fatalf("exit = %+v", exit)
	}
	if !strings.Contains(out, "hog: holding 32 MiB") || strings.Contains(out, "holding 64 MiB") {
		t.Fatalf("hog got an unexpected amount of memory under a 64 MiB limit:\n%s", out)
	}
}

func TestRunCommandTrap(t *testing.T) {
	m := compile(t, testWasm(t, "trap"))
	exit, _, _ := run(t, m, Spec{})
	mustExit(t, exit, ReasonError, ExitCodeTrap)
	if !strings.Contains(exit.Message, "unreachable") || !exit.Trapped {
		t.Fatalf("message %q does not name the trap", exit.Message)
	}
}

func TestRunCommandStartErrors(t *testing.T) {
	rt := testRuntime(t)
	hello := guest(t, "hello")
	file := t.TempDir() + "/f"
	os.WriteFile(file, nil, 0o644)
	for name, s := range map[string]Spec{
		"missing mount":  {Mounts: []Mount{{HostPath: "/does/not/exist", GuestPath: "/d"}}},
		"file mount":     {Mounts: []Mount{{HostPath: file, GuestPath: "/d"}}},
		"relative guest": {Mounts: []Mount{{HostPath: t.TempDir(), GuestPath: "d"}}},
		"env name":       {Env: map[string]string{"A=B": "c"}},
		"negative time":  {Timeout: -1},
	} {
		if _, err := rt.RunCommand(context.Background(), hello, s); err == nil {
			t.Errorf("%s: RunCommand started", name)
		}
	}
	// A module whose initial memory is over the limit cannot start.
	big := compile(t, testWasm(t, "bigmem"))
	if _, err := rt.RunCommand(context.Background(), big, Spec{MemoryLimit: 19*pageSize + 1}); err != nil {
		t.Errorf("20 pages under a limit rounded up to 20: %v", err)
	}
	if _, err := rt.RunCommand(context.Background(), big, Spec{MemoryLimit: 10 * pageSize}); !errors.Is(err, ErrMemoryLimit) {
		t.Errorf("20 pages under a 10-page limit: %v, want ErrMemoryLimit", err)
	}
	// A reactor is not a command.
	if _, err := rt.RunCommand(context.Background(), compile(t, testWasm(t, "reactor")), Spec{}); !errors.Is(err, ErrNoExport) {
		t.Errorf("reactor as command: %v, want ErrNoExport", err)
	}
}

// A guest asleep in WASI (time.Sleep) stops at its deadline, not when it
// would have woken.
func TestRunCommandDeadlineWhileSleeping(t *testing.T) {
	done := make(chan Exit, 1)
	go func() {
		exit, _, _ := run(t, guest(t, "probe"), Spec{Clock: true, Timeout: 100 * time.Millisecond, Args: []string{"sleep", "10m"}})
		done <- exit
	}()
	select {
	case exit := <-done:
		mustExit(t, exit, ReasonDeadlineExceeded, ExitCodeKilled)
	case <-time.After(60 * time.Second):
		t.Fatal("a guest sleeping 10 minutes with a 100 ms timeout was still running after 60 s")
	}
}
