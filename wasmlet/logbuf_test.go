package wasmlet

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestLogRunKeepsTheLastBytes(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"fits", 10, []string{"abc", "def"}, "abcdef"},
		{"exactly full", 6, []string{"abc", "def"}, "abcdef"},
		{"wraps", 5, []string{"abc", "def"}, "bcdef"},
		{"wraps twice", 4, []string{"abc", "def", "gh", "ijk"}, "hijk"},
		{"one write larger than the buffer", 3, []string{"ab", "cdefgh"}, "fgh"},
		{"many small writes", 3, strings.Split("abcdefghij", ""), "hij"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newLogRun(tt.max)
			total := 0
			for _, w := range tt.writes {
				r.Write([]byte(w))
				total += len(w)
			}
			got, next, closed, _ := r.from(0)
			if string(got) != tt.want || next != int64(total) || closed {
				t.Errorf("from(0) = %q, %d, %v; want %q, %d, false", got, next, closed, tt.want, total)
			}
			// Reading from an offset inside what is kept.
			if len(tt.want) > 1 {
				got, _, _, _ := r.from(int64(total - 1))
				if string(got) != tt.want[len(tt.want)-1:] {
					t.Errorf("from(total-1) = %q, want %q", got, tt.want[len(tt.want)-1:])
				}
			}
		})
	}
}

func TestTailLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\nc\n", 5, "a\nb\nc\n"},
		{"a\nb\nc\n", 1, "c\n"},
		{"", 3, ""},
	}
	for _, tt := range tests {
		if got := string(tailLines([]byte(tt.in), tt.n)); got != tt.want {
			t.Errorf("tailLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestLogRunFollow(t *testing.T) {
	r := newLogRun(1 << 10)
	r.Write([]byte("one\n"))
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- r.stream(context.Background(), LogOptions{Follow: true}, func(b []byte) error {
			got <- string(b)
			return nil
		})
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("got %q, want %q", g, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q within 10s", want)
		}
	}
	expect("one\n")
	r.Write([]byte("two\n"))
	expect("two\n")
	r.close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end when the run closed")
	}
}
