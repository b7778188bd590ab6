package gpu

import (
	"errors"
	"fmt"
	"time"

	"github.com/clattn/clattn/gpu/internal/cl"
)

// KernelTime runs fn and returns the summed device time (OpenCL profiling,
// end - start) of the kernels launched on d while fn ran, for benchmarks that
// want device time rather than wall time. It is KernelTimes without the
// per-kernel times.
func (d *Device) KernelTime(fn func() error) (time.Duration, error) {
	return d.KernelTimes(fn, nil)
}

// launchEvent is a launch's profiling event, its backend operation and kernel.
type launchEvent struct {
	op, kernel string
	event      *cl.Event
}

// KernelTimes runs fn and returns the summed device time (OpenCL profiling,
// end - start) of the kernels launched on d while fn ran; each, if not nil, is
// called with every launch's backend operation ("Gemm"), kernel name and
// device time, in launch order (where the time goes: gpubench bench --kernels).
//
// It serialises: KernelTime(s) calls on one device run one at a time, and
// after fn returns it waits for the queue to drain (so the timed kernels have
// finished). Kernels launched by other goroutines while fn runs are counted
// too, so time one workload at a time.
func (d *Device) KernelTimes(fn func() error, each func(op, kernel string, t time.Duration)) (time.Duration, error) {
	const op = "KernelTime"
	d.timing.Lock()
	defer d.timing.Unlock()

	events := []launchEvent{}
	d.recMu.Lock()
	d.recording = &events
	d.recMu.Unlock()
	err := fn()
	d.recMu.Lock()
	d.recording = nil
	d.recMu.Unlock()
	defer func() {
		for _, e := range events {
			_ = e.event.Release()
		}
	}()
	if err != nil {
		return 0, err
	}

	if err := d.enter(op); err != nil {
		return 0, err
	}
	defer d.life.RUnlock()
	if err := d.drv.finish(d.queue); err != nil {
		return 0, d.wrapLate(op, err)
	}
	var total time.Duration
	var errs []error
	for _, e := range events {
		p, err := e.event.Profile()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		total += p.Duration()
		if each != nil {
			each(e.op, e.kernel, p.Duration())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return total, d.wrap(op, fmt.Errorf("reading profiling times: %w", err))
	}
	return total, nil
}

// Finish waits until every operation queued on d has completed, and reports a
// failure that surfaced while they ran. Download waits too; Finish is for
// timing work whose results stay on the device.
func (d *Device) Finish() error {
	const op = "Finish"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	if err := d.drv.finish(d.queue); err != nil {
		return d.wrapLate(op, err)
	}
	return nil
}
