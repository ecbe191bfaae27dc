package sandbox

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/wask-dev/wask/internal/samplebuild"
	"github.com/wask-dev/wask/wasmlet/sandbox/internal/preempt"
)

// reportLatency reports the p50 and p99 of samples in microseconds.
func reportLatency(b *testing.B, samples []time.Duration, unit string, scale time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	pct := func(p float64) float64 {
		return float64(samples[int(p*float64(len(samples)-1))]) / float64(scale)
	}
	b.ReportMetric(pct(0.50), "p50-"+unit)
	b.ReportMetric(pct(0.99), "p99-"+unit)
}

// benchServe measures one request at a time on a warm pool.
func benchServe(b *testing.B, rt *Runtime, m *Module, s Spec) {
	h, err := rt.NewHandler(m, s, ModeHTTPReactor, PoolConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(context.Background())
	req := httptest.NewRequest("GET", "http://svc.default/bench?x=1", nil)
	req.Header.Set("X-Foo", "bar")
	req.Header.Set("Accept", "*/*")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req) // warm up: start the instance
	if w.Code != 200 {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
	samples := make([]time.Duration, 0, b.N)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := threadCPU()
	for range b.N {
		w := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(w, req)
		samples = append(samples, time.Since(t0))
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
	cpu := threadCPU() - cpu0
	b.StopTimer()
	reportLatency(b, samples, "µs", time.Microsecond)
	// CPU time of this thread per request: robust to a shared machine.
	b.ReportMetric(float64(cpu)/float64(b.N)/float64(time.Microsecond), "cpu-µs/op")
}

func BenchmarkReactorEcho(b *testing.B) { benchServe(b, testRuntime(b), guest(b, "echo"), echoSpec) }

// BenchmarkReactorEchoUninterruptible is BenchmarkReactorEcho with no
// preemption checks at all (which New never makes): the floor.
func BenchmarkReactorEchoUninterruptible(b *testing.B) { benchEchoStopping(b, stopNever) }

// BenchmarkReactorEchoWazeroChecks is BenchmarkReactorEcho stopped by
// wazero's WithCloseOnContextDone (a Go exit at every loop header) instead
// of package preempt's countdown: what the countdown saves.
func BenchmarkReactorEchoWazeroChecks(b *testing.B) { benchEchoStopping(b, stopByWazero) }

func benchEchoStopping(b *testing.B, stops stopping) {
	rt, err := newRuntime(context.Background(), Config{}, stops)
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(context.Background())
	m, err := rt.Compile(context.Background(), mustRead(b, samplebuild.Build(b, "../../wasm-samples/echo")))
	if err != nil {
		b.Fatal(err)
	}
	benchServe(b, rt, m, echoSpec)
}

func BenchmarkReactorTiny(b *testing.B) {
	m, err := testRuntime(b).Compile(context.Background(), mustRead(b, "../../wasm-samples/tiny/tiny.wasm"))
	if err != nil {
		b.Fatal(err)
	}
	benchServe(b, testRuntime(b), m, Spec{})
}

// BenchmarkReactorEchoParallel serves from a pool of 8 on every core.
func BenchmarkReactorEchoParallel(b *testing.B) {
	h, err := testRuntime(b).NewHandler(guest(b, "echo"), echoSpec, ModeHTTPReactor, PoolConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(context.Background())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "http://svc.default/bench", nil)
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}

// BenchmarkCGIEcho serves through a fresh instance per request.
func BenchmarkCGIEcho(b *testing.B) {
	h, err := testRuntime(b).NewHandler(guest(b, "cgi-echo"), echoSpec, ModeHTTPCGI, PoolConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(context.Background())
	req := httptest.NewRequest("GET", "http://svc.default/bench", nil)
	samples := make([]time.Duration, 0, b.N)
	for range b.N {
		w := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(w, req)
		samples = append(samples, time.Since(t0))
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	reportLatency(b, samples, "ms", time.Millisecond)
}

// BenchmarkReactorColdStart measures starting one Go reactor instance
// (instantiate and _initialize) and the memory it holds.
func BenchmarkReactorColdStart(b *testing.B) {
	benchColdStart(b, testRuntime(b), guest(b, "echo"))
}

// BenchmarkReactorColdStartUninterruptible is BenchmarkReactorColdStart
// with no preemption checks at all (see BenchmarkReactorEchoUninterruptible).
func BenchmarkReactorColdStartUninterruptible(b *testing.B) {
	rt, err := newRuntime(context.Background(), Config{}, stopNever)
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(context.Background())
	m, err := rt.Compile(context.Background(), mustRead(b, samplebuild.Build(b, "../../wasm-samples/echo")))
	if err != nil {
		b.Fatal(err)
	}
	benchColdStart(b, rt, m)
}

func benchColdStart(b *testing.B, rt *Runtime, m *Module) {
	p, err := rt.prepare(m, echoSpec)
	if err != nil {
		b.Fatal(err)
	}
	var held uint64
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	cpu0 := threadCPU()
	for range b.N {
		in, err := rt.instantiate(context.Background(), m, p, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := in.call(context.Background(), ReactorInitExport); err != nil {
			b.Fatal(err)
		}
		held += uint64(in.mod.Memory().Size())
		in.close(context.Background())
	}
	b.ReportMetric(float64(threadCPU()-cpu0)/float64(b.N)/float64(time.Millisecond), "cpu-ms/op")
	b.ReportMetric(float64(held)/float64(b.N)/(1<<20), "MiB-linear-memory/instance")
}

// BenchmarkSpinDeadline measures how late a spinning guest stops after its
// deadline.
func BenchmarkSpinDeadline(b *testing.B) {
	rt, m := testRuntime(b), guest(b, "spin")
	const timeout = 20 * time.Millisecond
	late := make([]time.Duration, 0, b.N)
	for range b.N {
		t0 := time.Now()
		exit, err := rt.RunCommand(context.Background(), m, Spec{Timeout: timeout})
		late = append(late, time.Since(t0)-timeout)
		if err != nil || exit.Reason != ReasonDeadlineExceeded {
			b.Fatalf("%+v %v", exit, err)
		}
	}
	reportLatency(b, late, "ms-late", time.Millisecond)
}

// BenchmarkIdleHandlerMemory measures the heap an idle reactor Handler
// holds after it scaled to zero (the compiled module is shared and not
// counted): it makes handlers, serves one request on each, lets each pool
// go to zero and measures the heap they keep.
func BenchmarkIdleHandlerMemory(b *testing.B) {
	rt, m := testRuntime(b), guest(b, "echo")
	const n = 200
	s := echoSpec
	s.Stdout, s.Stderr = &syncBuffer{}, &syncBuffer{}
	for range b.N {
		handlers := make([]*Handler, 0, n)
		before := heapInUse()
		for range n {
			h, err := rt.NewHandler(m, s, ModeHTTPReactor, PoolConfig{IdleTimeout: time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			if w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
			deadline := time.Now().Add(10 * time.Second)
			for h.Stats().Instances != 0 {
				if time.Now().After(deadline) {
					b.Fatal("no scale to zero")
				}
				time.Sleep(100 * time.Microsecond)
			}
			handlers = append(handlers, h)
		}
		after := heapInUse()
		b.ReportMetric(float64(int64(after)-int64(before))/n/1024, "KiB/idle-handler")
		for _, h := range handlers {
			h.Close(context.Background())
		}
		runtime.KeepAlive(handlers)
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkInstrumentEcho measures internal/preempt's rewrite of the echo
// guest (a 5 MiB Go module), which every Compile does before wazero
// compiles or loads it from the compilation cache.
func BenchmarkInstrumentEcho(b *testing.B) {
	wasm := mustRead(b, samplebuild.Build(b, "../../wasm-samples/echo"))
	b.SetBytes(int64(len(wasm)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := preempt.Instrument(wasm, 0); err != nil {
			b.Fatal(err)
		}
	}
}
