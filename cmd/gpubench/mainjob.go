package main

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/bench"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/gpu"
)

func init() {
	register("main", "the default job: check every device against the float64 oracle, time it, print a summary", cmdMain)
}

// smokeElements is the length of the vectors the smoke kernel adds.
const smokeElements = 1 << 20

// mainReport is what the main job writes with --json.
type mainReport struct {
	Devices  []deviceRow  `json:"devices"`
	OpenCL   string       `json:"opencl_error,omitempty"`
	Selected string       `json:"selected"` // the spec of the device --device chose
	Checks   []checkedRun `json:"checks"`   // the selected device first, then every other one
	Seconds  float64      `json:"seconds"`
}

// checkedRun is the main job's look at one device: the smoke kernel (OpenCL
// only), the quick conformance suite and the quick benchmark.
type checkedRun struct {
	Spec        string       `json:"spec"` // "cpu" or "opencl:N"
	Device      string       `json:"device"`
	Error       string       `json:"error,omitempty"` // the device could not be opened
	Smoke       string       `json:"smoke,omitempty"` // "ok" or the error; "" for the cpu backend
	Verify      verifyReport `json:"verify"`
	Bench       bench.Report `json:"bench"`
	BenchErrors []string     `json:"bench_errors,omitempty"`
}

// passed reports whether everything checked on the device passed.
func (c checkedRun) passed() bool {
	return c.Error == "" && (c.Smoke == "" || c.Smoke == "ok") && c.Verify.Failed == 0 &&
		len(c.Verify.Results) > 0 && len(c.BenchErrors) == 0
}

// cmdMain is gpubench without a command: every device of the machine (each
// OpenCL device and the pure-Go backend) is checked and timed, and a summary
// says in a few lines what passed and how fast. Failed checks make the exit
// status 1, but every device is still checked and the summary printed.
func cmdMain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("main", stderr, "[--device D] [--verbose] [--json F]")
	device := fs.String("device", "", "the device to select (default auto: the best OpenCL GPU, else cpu; $"+clattn.DeviceEnv+" wins over auto); every other device is checked too")
	verbose := fs.Bool("verbose", false, "print the devices, every check and every timing, not just the summary")
	jsonPath := fs.String("json", "", "write devices, checks and timings of every device as JSON to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	start := time.Now()
	var r mainReport
	var listErr error
	r.Devices, listErr = deviceRows()
	if listErr != nil {
		r.OpenCL = listErr.Error()
	}
	if *verbose {
		printDevices(stdout, r.Devices, listErr)
		fmt.Fprintln(stdout)
	}

	selected, err := clattn.Open(*device)
	if err != nil {
		return err
	}
	r.Selected = specOf(selected)
	for _, spec := range checkOrder(r.Selected, r.Devices) {
		b := selected
		if spec != r.Selected {
			if b, err = openSpec(spec); err != nil {
				r.Checks = append(r.Checks, checkedRun{Spec: spec, Device: spec, Error: err.Error()})
				continue
			}
		}
		fmt.Fprintf(stderr, "checking %s (%s)\n", spec, b.Name())
		c := checkDevice(spec, b)
		b.Close()
		r.Checks = append(r.Checks, c)
		if *verbose {
			printCheck(stdout, c, rowOf(r.Devices, spec))
		}
	}
	r.Seconds = time.Since(start).Seconds()

	printSummary(stdout, r, listErr)
	if *jsonPath != "" {
		if err := writeJSON(*jsonPath, r); err != nil {
			return err
		}
	}
	for _, c := range r.Checks {
		if !c.passed() {
			return errFailed
		}
	}
	return nil
}

// specOf is the spec that selects b again: "opencl:N" or "cpu".
func specOf(b backend.Backend) string {
	if d, ok := b.(*gpu.Device); ok {
		return fmt.Sprintf("opencl:%d", d.Info().Index)
	}
	return "cpu"
}

// rowOf is the row of the devices table with spec; its Name is the spec where there is none.
func rowOf(rows []deviceRow, spec string) deviceRow {
	for _, row := range rows {
		if row.Spec == spec {
			return row
		}
	}
	return deviceRow{Spec: spec, Name: spec}
}

// checkOrder lists the specs the main job checks: the selected device first,
// then every other device in the order of the devices table (the cpu backend last).
func checkOrder(selected string, rows []deviceRow) []string {
	specs := []string{selected}
	for _, row := range rows {
		if row.Spec != selected {
			specs = append(specs, row.Spec)
		}
	}
	return specs
}

// openSpec opens the device of a spec that checkOrder listed.
func openSpec(spec string) (backend.Backend, error) {
	if spec == "cpu" {
		return cpuref.New(), nil
	}
	return clattn.Open(spec)
}

// checkDevice runs the smoke kernel (OpenCL devices), the quick conformance
// suite and the quick benchmark on b.
func checkDevice(spec string, b backend.Backend) checkedRun {
	c := checkedRun{Spec: spec, Device: b.Name()}
	if d, ok := b.(*gpu.Device); ok {
		c.Smoke = "ok"
		if err := d.Smoke(smokeElements); err != nil {
			c.Smoke = err.Error()
		}
	}
	c.Verify = verify(b, false)
	c.Bench, c.BenchErrors = quickBench(b)
	return c
}

// printCheck prints everything measured on one device (--verbose).
func printCheck(w io.Writer, c checkedRun, row deviceRow) {
	fmt.Fprintf(w, "== %s: %s (%s)\n", c.Spec, row.Name, row.Platform)
	if c.Smoke != "" {
		fmt.Fprintf(w, "smoke kernel: %s\n", c.Smoke)
	}
	printVerify(w, c.Verify)
	fmt.Fprintln(w)
	if len(c.Bench.Results) > 0 {
		_ = bench.WriteTable(w, c.Bench) // w is the command's stdout: a failed write has nowhere to be reported
	}
	for _, e := range c.BenchErrors {
		fmt.Fprintf(w, "bench failed: %s\n", e)
	}
	fmt.Fprintln(w)
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

// headline is one figure of the summary, taken from the largest case of an op
// in the quick suite so that every device is compared on the same shape.
type headline struct {
	title string
	op    bench.Op
	value func(bench.Result) string
}

// headlines are the summary's figures. A new op joins by a line here once it
// is in the quick suite (decode: its read bandwidth, "%.1f GB/s" of GBps).
var headlines = []headline{
	{"ATTENTION", bench.OpAttention, func(x bench.Result) string { return fmt.Sprintf("%.1f GFLOP/s", x.GFLOPs) }},
	{"ENCODER LAYER", bench.OpEncoder, func(x bench.Result) string { return fmt.Sprintf("%.2f ms", x.MedianMs) }},
	{"GEMM", bench.OpGemm, func(x bench.Result) string { return fmt.Sprintf("%.1f GFLOP/s", x.GFLOPs) }},
}

// headlineResult is the result of op's largest case in r (by FLOPs).
func headlineResult(r bench.Report, op bench.Op) (bench.Result, bool) {
	var best bench.Result
	found := false
	for _, x := range r.Results {
		if x.Op == op && (!found || x.FLOPs > best.FLOPs) {
			best, found = x, true
		}
	}
	return best, found
}

// printSummary prints what a person reads first: one row per device with its
// check and its headline figures, then how the figures were measured and how to
// choose a device.
func printSummary(w io.Writer, r mainReport, listErr error) {
	passed := 0
	for _, c := range r.Checks {
		if c.passed() {
			passed++
		}
	}
	fmt.Fprintf(w, "clattn on this machine: %d of %d devices passed (%.1f s)\n", passed, len(r.Checks), r.Seconds)
	if listErr != nil {
		fmt.Fprintf(w, "no OpenCL: %v\n", listErr)
	}
	fmt.Fprintln(w)

	// A headline column shows where some device measured its op.
	var shown []headline
	var shapes []string
	for _, h := range headlines {
		for _, c := range r.Checks {
			if x, ok := headlineResult(c.Bench, h.op); ok {
				shown = append(shown, h)
				shapes = append(shapes, fmt.Sprintf("%s %s", h.op, bench.Case{Op: h.op, Shape: x.Shape}.ShapeName()))
				break
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "SPEC\tDEVICE\tCHECK\tWORST ERROR / LIMIT")
	for _, h := range shown {
		fmt.Fprintf(tw, "\t%s", h.title)
	}
	fmt.Fprintln(tw)
	for _, c := range r.Checks {
		spec := c.Spec
		if c.Spec == r.Selected {
			spec += " *"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s", spec, short(rowOf(r.Devices, c.Spec).Name, 32), checkWord(c), worstError(c))
		for _, h := range shown {
			cell := "-"
			if x, ok := headlineResult(c.Bench, h.op); ok {
				cell = h.value(x)
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w)

	fmt.Fprintf(w, "* the selected device: --device, or $%s where --device is auto or not given.\n", clattn.DeviceEnv)
	fmt.Fprintf(w, "CHECK: the smoke kernel (OpenCL) and %d quick checks of every op against the float64 oracle,\n", checksPerDevice(r))
	fmt.Fprintln(w, "  the checks the pure-Go backend passes too. WORST ERROR: the check nearest its limit, as its")
	fmt.Fprintln(w, "  max-abs error / the limit on it (gpubench verify --device SPEC shows them all).")
	if len(shapes) > 0 {
		fmt.Fprintln(w, "Figures: median of 3 runs (GFLOP/s from device time where the device has a timer) of")
		for _, s := range shapes {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	if r.Selected == "cpu" {
		for _, row := range r.Devices {
			if row.Index >= 0 {
				fmt.Fprintf(w, "auto selects OpenCL GPUs only; to select %s (%s): --device %s or %s=%s.\n",
					row.Spec, row.Platform, row.Spec, clattn.DeviceEnv, row.Spec)
				break
			}
		}
	}
	fmt.Fprintln(w, "--verbose prints every check and timing; --json F writes them.")
}

// checksPerDevice is the number of conformance checks of the first device that ran them.
func checksPerDevice(r mainReport) int {
	for _, c := range r.Checks {
		if n := len(c.Verify.Results); n > 0 {
			return n
		}
	}
	return 0
}

// checkWord is PASS, or FAIL with what failed.
func checkWord(c checkedRun) string {
	switch {
	case c.Error != "":
		return "FAIL (cannot open)"
	case c.passed():
		return "PASS"
	case c.Smoke != "" && c.Smoke != "ok":
		return "FAIL (smoke kernel)"
	case c.Verify.Failed > 0:
		return fmt.Sprintf("FAIL (%d of %d checks)", c.Verify.Failed, len(c.Verify.Results))
	case len(c.BenchErrors) > 0:
		return fmt.Sprintf("FAIL (%d bench cases)", len(c.BenchErrors))
	}
	return "FAIL (no checks ran)"
}

// worstError is the check nearest its limit (or furthest over it) as
// "2.1e-07 / 9.5e-07 (attention)", or the error that kept the device from running.
func worstError(c checkedRun) string {
	if c.Error != "" {
		return oneLine(c.Error)
	}
	worst, frac := -1, math.Inf(-1)
	for i, x := range c.Verify.Results {
		if x.Checks > 0 && x.Limit > 0 && x.MaxAbs/x.Limit > frac {
			worst, frac = i, x.MaxAbs/x.Limit
		}
	}
	if worst < 0 {
		return "-"
	}
	x := c.Verify.Results[worst]
	return fmt.Sprintf("%.2g / %.2g (%s)", x.MaxAbs, x.Limit, x.Op)
}
