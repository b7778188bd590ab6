package gpu_test

import (
	"testing"
	"time"

	"github.com/clattn/clattn/gpu/gputest"
)

func TestSmokeAndKernelTime(t *testing.T) {
	d := gputest.Device(t)
	var err error
	elapsed, terr := d.KernelTime(func() error {
		err = d.Smoke(10007)
		return err
	})
	if err != nil || terr != nil {
		t.Fatalf("smoke on %s: %v / %v", d.Name(), err, terr)
	}
	if elapsed <= 0 || elapsed > time.Minute {
		t.Errorf("kernel time %v", elapsed)
	}
	if err := d.Smoke(0); err != nil {
		t.Errorf("empty smoke: %v", err)
	}
}
