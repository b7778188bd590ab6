package backendtest_test

import (
	"testing"

	"github.com/clattn/clattn/backend/backendtest"
	"github.com/clattn/clattn/cpuref"
)

// TestCPURef runs the suite against the pure-Go backend (the short one with -short).
func TestCPURef(t *testing.T) {
	b := cpuref.New()
	defer b.Close()
	if testing.Short() {
		backendtest.RunShort(t, b)
		return
	}
	backendtest.Run(t, b)
}
