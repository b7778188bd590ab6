package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/golden"
)

func init() {
	register("golden", "PyTorch golden cases (safetensors files) on a device: error vs float64, PASS/FAIL", cmdGolden)
}

// goldenReport is one run of golden case files on a device.
type goldenReport struct {
	Device  string      `json:"device"`
	Passed  int         `json:"passed"`
	Failed  int         `json:"failed"`
	Results []goldenRow `json:"results"`
}

// goldenRow is one output of one case. MaxAbs and Limit are null where the
// output could not be computed.
type goldenRow struct {
	File    string   `json:"file"`
	Case    string   `json:"case"`
	Kind    string   `json:"kind"`
	Output  string   `json:"output"`
	MaxAbs  *float64 `json:"max_abs"`
	Torch32 *float64 `json:"torch_fp32_max_abs"`
	Limit   *float64 `json:"limit"`
	Pass    bool     `json:"pass"`
	Reason  string   `json:"reason,omitempty"`
}

func cmdGolden(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("golden", stderr, "[--device D] [--json F] FILE.safetensors...")
	device := fs.String("device", "", "device spec (default $CLATTN_DEVICE or auto)")
	jsonPath := fs.String("json", "", "write the results as JSON to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErrorf(fs, "no case files (e.g. testdata/golden/*.safetensors)")
	}
	if err := checkOutput(*jsonPath, fs.Args()...); err != nil {
		return err
	}
	b, err := clattn.Open(*device)
	if err != nil {
		return err
	}
	defer b.Close()
	r := goldenReport{Device: b.Name()}
	for _, path := range fs.Args() {
		results, err := golden.RunFile(b, path)
		if err != nil { // unreadable or malformed: one failed row, then the next file
			r.Results = append(r.Results, goldenRow{File: path, Case: caseName(path), Kind: "-", Output: "-", Reason: err.Error()})
			continue
		}
		for _, res := range results {
			r.Results = append(r.Results, goldenRow{File: path, Case: res.Case, Kind: res.Kind, Output: res.Output,
				MaxAbs: finiteOrNil(res.MaxAbs), Torch32: finiteOrNil(res.Torch32), Limit: finiteOrNil(res.Limit),
				Pass: res.Pass, Reason: res.Reason})
		}
	}
	for _, row := range r.Results {
		if row.Pass {
			r.Passed++
		} else {
			r.Failed++
		}
	}
	printGolden(stdout, r)
	if *jsonPath != "" {
		if err := writeJSON(*jsonPath, r, fs.Args()...); err != nil {
			return err
		}
	}
	if r.Failed > 0 {
		return errFailed
	}
	return nil
}

// caseName is the file name without directory and extension.
func caseName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".safetensors")
}

// finiteOrNil is &x, or nil where x is NaN or infinite (JSON has no such numbers).
func finiteOrNil(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// printGolden prints one row per output (case, kind, output, max abs error vs
// PyTorch's float64 result, the limit, PASS or FAIL with the reason) and the
// "N passed, M failed" line.
func printGolden(w io.Writer, r goldenReport) {
	fmt.Fprintf(w, "golden: %d outputs on %s\n", len(r.Results), r.Device)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tKIND\tOUTPUT\tMAX ABS\tLIMIT\tRESULT")
	for _, row := range r.Results {
		result := "PASS"
		if !row.Pass {
			result = "FAIL"
			if row.Reason != "" {
				result += " " + oneLine(row.Reason)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", row.Case, row.Kind, row.Output, number(row.MaxAbs), number(row.Limit), result)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d passed, %d failed\n", r.Passed, r.Failed)
}

// number formats an optional number, "-" where absent.
func number(x *float64) string {
	if x == nil {
		return "-"
	}
	return fmt.Sprintf("%.3g", *x)
}

// oneLine joins the lines of a (joined) error message.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
