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

// TestKernelTimes checks that KernelTimes names every launch, by backend
// operation and kernel in launch order, and that their device times sum to
// the total it returns.
func TestKernelTimes(t *testing.T) {
	d := gputest.Device(t)
	x, err := d.Upload(make([]float32, 64*64), 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Release()
	type launch struct{ op, kernel string }
	var launches []launch
	var sum time.Duration
	total, err := d.KernelTimes(func() error {
		if err := d.LayerNorm(x, x, backend.LayerNormOptions{}); err != nil {
			return err
		}
		return d.RMSNorm(x, x, backend.RMSNormOptions{})
	}, func(op, kernel string, dt time.Duration) {
		launches = append(launches, launch{op, kernel})
		sum += dt
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []launch{{"LayerNorm", "layer_norm"}, {"RMSNorm", "rms_norm"}}
	if d.Profile().CPUKernels {
		want[0].kernel, want[1].kernel = "layer_norm_cpu", "rms_norm_cpu"
	}
	if len(launches) != len(want) || launches[0] != want[0] || launches[1] != want[1] {
		t.Errorf("launches %v, want %v", launches, want)
	}
	if sum != total || total <= 0 {
		t.Errorf("kernel times sum to %v, total %v", sum, total)
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
