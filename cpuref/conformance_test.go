package cpuref_test

import (
	"testing"

	"github.com/clattn/clattn/backend/backendtest"
	"github.com/clattn/clattn/cpuref"
)

// TestConformance runs the project's conformance suite (the short one with -short).
func TestConformance(t *testing.T) {
	b := cpuref.New()
	defer b.Close()
	if testing.Short() {
		backendtest.RunShort(t, b)
		return
	}
	backendtest.Run(t, b)
}
