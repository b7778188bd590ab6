package gpu_test

import (
	"errors"
	"testing"
	"time"

	"github.com/clattn/clattn/backend"
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

func TestFinish(t *testing.T) {
	d := gputest.Device(t)
	x, err := d.Upload(make([]float32, 64*64), 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Release()
	if err := d.LayerNorm(x, x, backend.LayerNormOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.Finish(); err != nil {
		t.Errorf("Finish: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Finish(); !errors.Is(err, backend.ErrReleased) {
		t.Errorf("Finish after Close = %v, want ErrReleased", err)
	}
}
