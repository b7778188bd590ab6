package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/bench"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/internal/soak"
	"github.com/clattn/clattn/internal/stress"
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

	autoChoseCPU bool // auto (or no --device) selected the cpu backend
}

// checkedRun is the main job's look at one device: the smoke kernel and the
// cross-check against the cpu backend (OpenCL only), the quick conformance
// suite and the quick benchmark.
type checkedRun struct {
	Spec        string       `json:"spec"` // "cpu" or "opencl:N"
	Device      string       `json:"device"`
	Error       string       `json:"error,omitempty"` // the device could not be opened
	Smoke       string       `json:"smoke,omitempty"` // "ok" or the error; "" for the cpu backend
	CrossCheck  *crossCheck  `json:"cross_check,omitempty"`
	Verify      verifyReport `json:"verify"`
	Bench       bench.Report `json:"bench"`
	BenchErrors []string     `json:"bench_errors,omitempty"`

	soak soak.Result // the cross-check in full, for --verbose
}

// crossCheckCases is how many random cases (package stress: odd shapes, every
// mask kind, NaN at masked positions) the main job runs on each OpenCL device,
// each compared with the cpu backend's result: 10 of each op, well under a
// second on PoCL.
var crossCheckCases = 10 * len(stress.Ops)

// crossCheck is the outcome of the cross-check of a device against the cpu backend.
type crossCheck struct {
	Reference  string   `json:"reference"`
	Seed       uint64   `json:"seed"`
	Cases      int      `json:"cases"`
	Mismatches int      `json:"mismatches"`
	MaxRatio   float64  `json:"max_ratio"` // the largest error as a fraction of its element's cap
	WorstOp    string   `json:"worst_op,omitempty"`
	Failures   []string `json:"failures,omitempty"`
}

// passed reports whether everything checked on the device passed.
func (c checkedRun) passed() bool {
	return c.Error == "" && (c.Smoke == "" || c.Smoke == "ok") && (c.CrossCheck == nil || c.CrossCheck.Mismatches == 0) &&
		c.Verify.Failed == 0 && len(c.Verify.Results) > 0 && len(c.BenchErrors) == 0
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
	if err := checkOutput(*jsonPath); err != nil {
		return err
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
	if spec, err := clattn.Resolve(*device); err == nil && spec.Kind == clattn.SpecAuto {
		r.autoChoseCPU = r.Selected == "cpu"
	}
	ref := cpuref.New()
	defer ref.Close()
	for _, spec := range checkOrder(r.Selected, r.Devices) {
		b := selected
		if spec != r.Selected {
			if b, err = openSpec(spec); err != nil {
				r.Checks = append(r.Checks, checkedRun{Spec: spec, Device: spec, Error: err.Error()})
				continue
			}
		}
		fmt.Fprintf(stderr, "checking %s (%s)\n", spec, rowOf(r.Devices, spec).Name)
		c := checkDevice(spec, b, ref)
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

// checkDevice runs the smoke kernel and the cross-check against ref (OpenCL
// devices), the quick conformance suite and the quick benchmark on b.
func checkDevice(spec string, b, ref backend.Backend) checkedRun {
	c := checkedRun{Spec: spec, Device: b.Name()}
	if d, ok := b.(*gpu.Device); ok {
		c.Smoke = "ok"
		if err := d.Smoke(smokeElements); err != nil {
			c.Smoke = err.Error()
		}
		c.soak = soak.Run(context.Background(), b, ref, soak.Options{Seed: 1, Cases: crossCheckCases})
		c.CrossCheck = &crossCheck{Reference: ref.Name(), Seed: 1, Cases: c.soak.Runs,
			Mismatches: c.soak.Mismatches, Failures: c.soak.Failures}
		for _, st := range c.soak.Ops {
			if st.MaxRatio > c.CrossCheck.MaxRatio || c.CrossCheck.WorstOp == "" {
				c.CrossCheck.MaxRatio, c.CrossCheck.WorstOp = st.MaxRatio, st.Op
			}
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
	if c.CrossCheck != nil {
		fmt.Fprintf(w, "cross-check: %d random cases against %s, seed %d (gpubench soak --device %s --seed %d runs more)\n",
			c.CrossCheck.Cases, c.CrossCheck.Reference, c.CrossCheck.Seed, c.Spec, c.CrossCheck.Seed)
		printSoak(w, c.soak)
		fmt.Fprintln(w)
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
	fmt.Fprint(tw, "SPEC\tDEVICE\tCHECK\tWORST ERROR / LIMIT\tVS CPU")
	for _, h := range shown {
		fmt.Fprintf(tw, "\t%s", h.title)
	}
	fmt.Fprintln(tw)
	for _, c := range r.Checks {
		spec := c.Spec
		if c.Spec == r.Selected {
			spec += " *"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s", spec, short(rowOf(r.Devices, c.Spec).Name, 26), checkWord(c), worstError(c), versusCPU(c))
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
	fmt.Fprintf(w, "CHECK: %d quick checks of every op against the float64 oracle, the checks the pure-Go backend\n", checksPerDevice(r))
	fmt.Fprintln(w, "  passes too; WORST ERROR is the one nearest its limit: its max-abs error / the limit on it.")
	fmt.Fprintf(w, "  OpenCL devices also run a smoke kernel and %d random cases (odd shapes, every mask) against the\n", crossCheckCases)
	fmt.Fprintln(w, "  cpu backend; VS CPU is their largest error as a fraction of its element's cap.")
	if len(shapes) > 0 {
		fmt.Fprintln(w, "Figures: median of 3 runs (GFLOP/s from device time where the device has a timer) of")
		for _, s := range shapes {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	if r.autoChoseCPU {
		for _, row := range r.Devices {
			if row.Index >= 0 {
				fmt.Fprintf(w, "auto selects OpenCL GPUs only; to select %s (%s):\n  --device %s or %s=%s.\n",
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

// versusCPU is the cross-check's cell: its worst error against the cap, or how many cases differed.
func versusCPU(c checkedRun) string {
	x := c.CrossCheck
	switch {
	case x == nil:
		return "-"
	case x.Mismatches > 0:
		return fmt.Sprintf("%d of %d differ", x.Mismatches, x.Cases)
	}
	return fmt.Sprintf("%.2g of cap", x.MaxRatio)
}

// checkWord is PASS, or FAIL with everything that failed.
func checkWord(c checkedRun) string {
	if c.Error != "" {
		return "FAIL (cannot open)"
	}
	if c.passed() {
		return "PASS"
	}
	var failed []string
	if c.Smoke != "" && c.Smoke != "ok" {
		failed = append(failed, "smoke kernel")
	}
	if c.CrossCheck != nil && c.CrossCheck.Mismatches > 0 {
		failed = append(failed, "vs cpu")
	}
	if c.Verify.Failed > 0 {
		failed = append(failed, fmt.Sprintf("%d of %d checks", c.Verify.Failed, len(c.Verify.Results)))
	}
	if len(c.BenchErrors) > 0 {
		failed = append(failed, fmt.Sprintf("%d bench cases", len(c.BenchErrors)))
	}
	if len(failed) == 0 {
		failed = append(failed, "no checks ran")
	}
	return "FAIL (" + strings.Join(failed, ", ") + ")"
}

// worstError is the check nearest its limit (or furthest over it) as
// "2.1e-07 / 9.5e-07", or the error that kept the device from running.
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
	return fmt.Sprintf("%.2g / %.2g", x.MaxAbs, x.Limit)
}
