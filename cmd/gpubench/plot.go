package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/clattn/clattn/bench"
)

func init() {
	register("plot", "draw saved bench results (--json files) of several devices in one picture", cmdPlot)
}

// cmdPlot overlays reports written by `gpubench bench --json`, one line per op and
// device, so devices (a GPU, PoCL, the cpu backend) compare in one picture.
func cmdPlot(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plot", stderr, "--out FILE.png REPORT.json...")
	out := fs.String("out", "", "the picture to write (.png, .svg or .pdf)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf(fs, "--out is required")
	}
	if fs.NArg() == 0 {
		return usageErrorf(fs, "no report files (write them with gpubench bench --json)")
	}
	reports := make([]bench.Report, 0, fs.NArg())
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var r bench.Report
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s: not a gpubench bench --json report: %w", path, err)
		}
		if r.Device == "" || len(r.Results) == 0 {
			return fmt.Errorf("%s: not a gpubench bench --json report (no device or no results)", path)
		}
		reports = append(reports, r)
	}
	if err := bench.Plot(*out, reports...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d reports drawn into %s\n", len(reports), *out)
	return nil
}
