package main

import (
	"os"
	"testing"
)

// envRunAsWask makes the test binary run as wask itself: tests start real
// `wask node` processes by re-executing it with this set.
const envRunAsWask = "WASK_TEST_RUN_AS_WASK"

func TestMain(m *testing.M) {
	if os.Getenv(envRunAsWask) == "1" {
		main()
	}
	os.Exit(m.Run())
}
