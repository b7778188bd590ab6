package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/backend/backendtest"
	"github.com/clattn/clattn/internal/outfile"
)

func init() {
	register("verify", "every op on a device against the float64 oracle: PASS/FAIL table", cmdVerify)
}

// verifyReport is one run of the conformance suite on a device.
type verifyReport struct {
	Device  string               `json:"device"`
	Suite   string               `json:"suite"` // "full" or "quick" (RunShort's shapes)
	Passed  int                  `json:"passed"`
	Failed  int                  `json:"failed"`
	Seconds float64              `json:"seconds"`
	Results []backendtest.Result `json:"results"`
}

func cmdVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", stderr, "[--device D] [--quick] [--json F]")
	device := fs.String("device", "", "device spec (default $CLATTN_DEVICE or auto)")
	quick := fs.Bool("quick", false, "fewer shapes per op (the short suite)")
	jsonPath := fs.String("json", "", "write the results as JSON to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	if err := checkOutput(*jsonPath); err != nil {
		return err
	}
	b, err := clattn.Open(*device)
	if err != nil {
		return err
	}
	defer b.Close()
	r := verify(b, !*quick)
	printVerify(stdout, r)
	if *jsonPath != "" {
		if err := writeJSON(*jsonPath, r); err != nil {
			return err
		}
	}
	if r.Failed > 0 {
		return errFailed
	}
	return nil
}

// verify runs the conformance suite on b (full: every shape, else the quick set).
func verify(b backend.Backend, full bool) verifyReport {
	start := time.Now()
	r := verifyReport{Device: b.Name(), Suite: "quick", Results: backendtest.Verify(b, full)}
	if full {
		r.Suite = "full"
	}
	r.Seconds = time.Since(start).Seconds()
	for _, x := range r.Results {
		if x.Passed {
			r.Passed++
		} else {
			r.Failed++
		}
	}
	return r
}

// verifyLegend says what the columns of the verify table mean: the limit
// applies to the max-abs error next to it, not to the relative error.
const verifyLegend = `ABS LIMIT bounds MAX ABS: 4 x the error of a naive float32 loop + 1e-6 x scale ("cap": no naive
loop, only the cap applies); the cap holds every element within 1e-5 x scale + 1e-5 x |ref|.
MAX REL is for information: outputs near zero make it large. "-": a check of bits, shapes or errors.`

// printVerify prints the legend, one row per subtest (op, shape, max abs error
// and its limit, max rel error, PASS or FAIL with the first failure message),
// the further messages of rows with several, and the "N passed, M failed" line.
func printVerify(w io.Writer, r verifyReport) {
	fmt.Fprintf(w, "verify: %s suite on %s\n", r.Suite, r.Device)
	fmt.Fprintln(w, verifyLegend)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OP\tSHAPE\tMAX ABS\tABS LIMIT\tMAX REL\tRESULT")
	for _, x := range r.Results {
		_, shape, _ := strings.Cut(x.Name, "/")
		maxAbs, maxRel, limit := "-", "-", "-"
		if x.Checks > 0 {
			maxAbs, maxRel, limit = fmt.Sprintf("%.3g", x.MaxAbs), fmt.Sprintf("%.3g", x.MaxRel), "cap"
			if x.Limit > 0 {
				limit = fmt.Sprintf("%.3g", x.Limit)
			}
		}
		result := "PASS"
		if !x.Passed {
			result = "FAIL " + x.Messages[0]
			if n := len(x.Messages) - 1; n > 0 {
				result += fmt.Sprintf(" (%d more below)", n)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Op, orDash(shape), maxAbs, limit, maxRel, result)
	}
	tw.Flush()
	for _, x := range r.Results {
		if len(x.Messages) > 1 {
			fmt.Fprintf(w, "%s:\n", x.Name)
			for _, m := range x.Messages[1:] {
				fmt.Fprintf(w, "    %s\n", m)
			}
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed (%.1f s)\n", r.Passed, r.Failed, r.Seconds)
}

// writeJSON writes v as indented JSON to path through a temporary file renamed
// into place (package internal/outfile); path may not be one of inputs.
func writeJSON(path string, v any, inputs ...string) error {
	return outfile.WriteFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}, inputs...)
}
