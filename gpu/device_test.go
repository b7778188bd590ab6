package gpu_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/gpu/internal/cl"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func TestDevicesDescribeThemselves(t *testing.T) {
	devs := gputest.Devices(t)
	for i, d := range devs {
		info := d.Info()
		if info.Index != i || info.Name == "" || info.Platform == "" || info.ComputeUnits <= 0 ||
			info.MaxAlloc <= 0 || info.GlobalMem <= 0 || info.LocalMem <= 0 || info.MaxWorkGroupSize <= 0 ||
			len(info.MaxWorkItemSizes) == 0 || info.OpenCLC == "" {
			t.Errorf("device %d: implausible info %+v", i, info)
		}
		switch info.Type {
		case "gpu", "cpu", "accelerator", "custom":
		default:
			t.Errorf("device %d: type %q", i, info.Type)
		}
		if want := fmt.Sprintf("opencl:%d %s", i, info.Name); d.Name() != want {
			t.Errorf("name %q, want %q", d.Name(), want)
		}
	}
}

func TestZeroSizeTensors(t *testing.T) {
	d := gputest.Device(t)
	for _, shape := range [][]int{{0}, {3, 0}, {0, 5, 2}} {
		x, err := d.Alloc(shape...)
		if err != nil {
			t.Fatalf("Alloc%v: %v", shape, err)
		}
		y, err := d.Upload(nil, shape...)
		if err != nil {
			t.Fatalf("Upload%v: %v", shape, err)
		}
		if err := d.Download(nil, x); err != nil {
			t.Errorf("Download%v: %v", shape, err)
		}
		if len(shape) >= 2 {
			if err := d.LayerNorm(y, x, backend.LayerNormOptions{}); err != nil {
				t.Errorf("LayerNorm%v: %v", shape, err)
			}
			if err := d.PositionalEncoding(y, x, backend.PositionalOptions{}); err != nil {
				t.Errorf("PositionalEncoding%v: %v", shape, err)
			}
		}
		if err := x.Release(); err != nil {
			t.Error(err)
		}
	}
}

func TestUploadDownloadRoundTrip(t *testing.T) {
	d := gputest.Device(t)
	data := []float32{1, -2, 3.5, 4e30, -0, 6}
	x := mustUpload(t, d, data, 2, 3)
	if got := x.Shape(); !got.Equal(backend.Shape{2, 3}) {
		t.Errorf("shape %v", got)
	}
	got := mustDownload(t, d, x)
	for i := range data {
		if got[i] != data[i] {
			t.Fatalf("element %d: %g, want %g", i, got[i], data[i])
		}
	}
	z, err := d.Alloc(4)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range mustDownload(t, d, z) {
		if v != 0 {
			t.Errorf("Alloc element %d = %g, want 0", i, v)
		}
	}
	if _, err := d.Upload(data, 4); !errorsIs(err, backend.ErrShape) {
		t.Errorf("Upload with the wrong length: %v", err)
	}
	if err := d.Download(make([]float32, 5), x); !errorsIs(err, backend.ErrShape) {
		t.Errorf("Download with the wrong length: %v", err)
	}
	if _, err := d.Alloc(2, -1); !errorsIs(err, backend.ErrShape) {
		t.Errorf("negative dimension: %v", err)
	}
}

func TestOversizedAllocationRefused(t *testing.T) {
	d := gputest.Device(t)
	n := int(d.Info().MaxAlloc/4) + 1
	if _, err := d.Alloc(n); !errorsIs(err, gpu.ErrTooLarge) {
		t.Errorf("Alloc(%d) over MaxAlloc: %v", n, err)
	}
}

func TestReleaseAndCloseAreIdempotent(t *testing.T) {
	infos, err := gpu.Devices()
	if err != nil || len(infos) == 0 {
		gputest.Device(t) // skips or fails with the usual message
	}
	d, err := gpu.OpenDevice(infos[0])
	if err != nil {
		t.Fatal(err)
	}
	x, err := d.Alloc(3)
	if err != nil {
		t.Fatal(err)
	}
	y, err := d.Alloc(3)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Release(); err != nil {
		t.Fatal(err)
	}
	if err := x.Release(); err != nil {
		t.Fatal(err)
	}
	if err := d.Download(make([]float32, 3), x); !errorsIs(err, backend.ErrReleased) {
		t.Errorf("Download of a released tensor: %v", err)
	}
	if err := d.LayerNorm(y, x, backend.LayerNormOptions{}); !errorsIs(err, backend.ErrReleased) {
		t.Errorf("LayerNorm of a released tensor: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := y.Release(); err != nil {
		t.Errorf("Release after Close: %v", err)
	}
	if _, err := d.Alloc(1); !errorsIs(err, backend.ErrReleased) {
		t.Errorf("Alloc after Close: %v", err)
	}
	if err := d.Write(y, make([]float32, y.Shape().Numel())); !errorsIs(err, backend.ErrReleased) {
		t.Errorf("Write after Close: %v", err)
	}
	if live := cl.Live(); len(live) != 0 {
		t.Errorf("OpenCL objects alive after Close: %v", live)
	}
}

func TestForeignTensors(t *testing.T) {
	d := gputest.Device(t)
	other := gputest.Device(t)
	cpu := cpuref.New()
	defer cpu.Close()
	c, err := cpu.Alloc(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	o, err := other.Alloc(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	x, err := d.Alloc(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, foreign := range []backend.Tensor{c, o} {
		if err := d.LayerNorm(x, foreign, backend.LayerNormOptions{}); !errorsIs(err, backend.ErrForeignTensor) {
			t.Errorf("LayerNorm of a %T: %v", foreign, err)
		}
		if err := d.Download(make([]float32, 6), foreign); !errorsIs(err, backend.ErrForeignTensor) {
			t.Errorf("Download of a %T: %v", foreign, err)
		}
	}
}
