package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/bench"
	"github.com/clattn/clattn/gpu"
)

func init() {
	register("main", "the default job: devices, smoke kernel, quick verify, quick benchmark, summary", cmdMain)
}

// smokeElements is the length of the vectors the smoke kernel adds.
const smokeElements = 1 << 20

// mainReport is what the main job writes with --json.
type mainReport struct {
	Devices     []deviceRow  `json:"devices"`
	OpenCL      string       `json:"opencl_error,omitempty"`
	Device      string       `json:"device"`
	Smoke       string       `json:"smoke"` // "ok", "skipped (not OpenCL)" or the error
	Verify      verifyReport `json:"verify"`
	Bench       bench.Report `json:"bench"`
	BenchErrors []string     `json:"bench_errors,omitempty"`
	Seconds     float64      `json:"seconds"`
}

// cmdMain is gpubench without a command: a quick look at what the machine can
// do. Failed checks make the exit status 1, but every step still runs and the
// summary is printed.
func cmdMain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("main", stderr, "[--device D] [--json F]")
	device := fs.String("device", "", "device spec (default $CLATTN_DEVICE or auto: the best OpenCL GPU, else cpu)")
	jsonPath := fs.String("json", "", "write devices, verify and bench results as JSON to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	if err := checkOutput(*jsonPath); err != nil {
		return err
	}
	start := time.Now()
	var r mainReport
	var listErr error
	r.Devices, listErr = deviceRows()
	if listErr == nil && len(r.Devices) == 1 { // the cpu backend alone: a loader without platforms
		listErr = errors.New("no platform or device found")
	}
	if listErr != nil {
		r.OpenCL = listErr.Error()
	}
	printDevices(stdout, r.Devices, listErr) // says "no OpenCL: ..." in one line where there is none
	fmt.Fprintln(stdout)

	b, err := clattn.Open(*device)
	if err != nil {
		return err
	}
	defer b.Close()
	r.Device = b.Name()
	fmt.Fprintf(stdout, "device: %s\n", r.Device)
	if spec, _ := clattn.Resolve(*device); spec.Kind == clattn.SpecAuto && len(r.Devices) > 1 && r.Device == "cpu" {
		fmt.Fprintln(stdout, "        (auto takes an OpenCL GPU only; --device opencl runs the kernels on the devices above)")
	}

	failed := false
	r.Smoke = "skipped (not OpenCL)"
	if d, ok := b.(*gpu.Device); ok {
		r.Smoke = "ok"
		if err := d.Smoke(smokeElements); err != nil {
			r.Smoke, failed = err.Error(), true
		}
	}
	fmt.Fprintf(stdout, "smoke:  %s\n\n", r.Smoke)

	r.Verify = verify(b, false)
	printVerify(stdout, r.Verify)
	failed = failed || r.Verify.Failed > 0
	fmt.Fprintln(stdout)

	r.Bench, r.BenchErrors = quickBench(b)
	if len(r.Bench.Results) > 0 {
		if err := bench.WriteTable(stdout, r.Bench); err != nil {
			return err
		}
	}
	for _, e := range r.BenchErrors {
		fmt.Fprintf(stdout, "bench failed: %s\n", e)
	}
	failed = failed || len(r.BenchErrors) > 0
	r.Seconds = time.Since(start).Seconds()

	fmt.Fprintln(stdout)
	printSummary(stdout, r)
	if *jsonPath != "" {
		if err := writeJSON(*jsonPath, r); err != nil {
			return err
		}
	}
	if failed {
		return errFailed
	}
	return nil
}

// quickBench times the quick suite with 3 reps, case by case so that one
// failing op does not hide the others; it returns the errors as "case: error".
func quickBench(b backend.Backend) (bench.Report, []string) {
	cases, err := bench.Suite("quick")
	if err != nil {
		return bench.Report{Device: b.Name()}, []string{err.Error()}
	}
	var report bench.Report
	var errs []string
	opt := bench.Options{Reps: 3, Warmup: 1}
	for _, c := range cases {
		r, err := runBench(b, []bench.Case{c}, opt, nil)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", c.Name(), err))
		}
		results := append(report.Results, r.Results...)
		report, report.Results = r, results
	}
	return report, errs
}

// printSummary prints the closing block of the main job.
func printSummary(w io.Writer, r mainReport) {
	fmt.Fprintln(w, "summary")
	fmt.Fprintf(w, "  device:     %s\n", r.Device)
	fmt.Fprintf(w, "  smoke:      %s\n", r.Smoke)
	fmt.Fprintf(w, "  verify:     %d/%d passed (%s suite)\n", r.Verify.Passed, len(r.Verify.Results), r.Verify.Suite)
	for _, op := range []bench.Op{bench.OpAttention, bench.OpGemm} {
		fmt.Fprintf(w, "  %-11s %s\n", op+":", bestRate(r.Bench, op))
	}
	if n := len(r.BenchErrors); n > 0 {
		fmt.Fprintf(w, "  bench:      %d case(s) failed\n", n)
	}
	fmt.Fprintf(w, "  total time: %.1f s\n", r.Seconds)
}

// bestRate is the highest GFLOP/s the bench measured for op, with its shape.
func bestRate(r bench.Report, op bench.Op) string {
	var best *bench.Result
	for i, x := range r.Results {
		if x.Op == op && (best == nil || x.GFLOPs > best.GFLOPs) {
			best = &r.Results[i]
		}
	}
	if best == nil {
		return "not measured"
	}
	return fmt.Sprintf("%.1f GFLOP/s (%s)", best.GFLOPs, bench.Case{Op: op, Shape: best.Shape}.ShapeName())
}
