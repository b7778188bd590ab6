package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
)

// Report is what `gpubench bench --json` writes.
type Report struct {
	Device string `json:"device"`
	// Date is when the run started, RFC 3339 in UTC; plots show its day.
	Date string `json:"date,omitempty"`
	// Peak is the device's estimated fp32 GFLOP/s and how it was estimated.
	PeakGFLOPs float64 `json:"peak_gflops,omitempty"`
	PeakHow    string  `json:"peak_how,omitempty"`
	// PeakRSSMiB is the process's peak resident memory after the run (host memory; PoCL's
	// device memory is host memory too).
	PeakRSSMiB float64 `json:"peak_rss_mib,omitempty"`
	// MemoryGBps is the device's read bandwidth measured in the same run by a
	// streaming read (MeasureBandwidth); decode rows report BandwidthPct of it.
	MemoryGBps float64  `json:"memory_gbps,omitempty"`
	Results    []Result `json:"results"`
}

// WriteTable prints the results as an aligned table.
func WriteTable(w io.Writer, r Report) error {
	fmt.Fprintf(w, "device: %s\n", r.Device)
	if r.PeakGFLOPs > 0 {
		fmt.Fprintf(w, "peak:   %.0f GFLOP/s fp32 (%s)\n", r.PeakGFLOPs, r.PeakHow)
	}
	if r.PeakRSSMiB > 0 {
		fmt.Fprintf(w, "peak resident memory: %.0f MiB\n", r.PeakRSSMiB)
	}
	if r.MemoryGBps > 0 {
		fmt.Fprintf(w, "memory: %.1f GB/s read (streaming read of %d MiB, this run)\n", r.MemoryGBps, BandwidthBytes>>20)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tshape\tmedian ms\tmin ms\tmax ms\tdevice ms\tGFLOP/s\tGB/s\t% peak\t% bw\t")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.3f\t%.3f\t%s\t%.1f\t%.1f\t%s\t%s\t\n", x.Op, Case{Op: x.Op, Shape: x.Shape}.ShapeName(),
			x.MedianMs, x.MinMs, x.MaxMs, optional(x.DeviceMs, "%.3f"), x.GFLOPs, x.GBps, optional(x.PeakPct, "%.1f"),
			optional(x.BandwidthPct, "%.1f"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeKernels(w, r)
}

// writeKernels prints, for each result that has them, its kernels' shares of
// the device time.
func writeKernels(w io.Writer, r Report) error {
	for _, x := range r.Results {
		if len(x.Kernels) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nkernels of %s %s (device time per run, median):\n", x.Op, Case{Op: x.Op, Shape: x.Shape}.ShapeName())
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "op\tkernel\tlaunches\tms\t%\t")
		for _, k := range x.Kernels {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.1f\t\n", k.Op, k.Kernel, k.Launches, k.Ms, k.Pct)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func optional(v float64, format string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadReport reads what WriteJSON wrote, refusing by content what is not a
// bench report: unknown fields (a verify or golden report), no device, no
// results, a result whose case is invalid (a shape with a size <= 0) or whose
// times or rates are negative or not finite.
func ReadReport(r io.Reader) (Report, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var rep Report
	if err := dec.Decode(&rep); err != nil {
		return Report{}, err
	}
	if rep.Device == "" || len(rep.Results) == 0 {
		return Report{}, fmt.Errorf("no device or no results")
	}
	for i, x := range rep.Results {
		if err := (Case{Op: x.Op, Shape: x.Shape}).Validate(); err != nil {
			return Report{}, fmt.Errorf("result %d: %w", i, err)
		}
		for _, v := range []float64{x.MedianMs, x.MinMs, x.MaxMs, x.DeviceMs, x.GFLOPs, x.GBps, x.PeakPct, x.FLOPs, x.Bytes} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return Report{}, fmt.Errorf("result %d (%s): a time or rate of %g", i, x.Op, v)
			}
		}
		for _, k := range x.Kernels {
			if k.Kernel == "" || k.Launches < 0 || !(k.Ms >= 0) || !(k.Pct >= 0) || math.IsInf(k.Ms, 0) || math.IsInf(k.Pct, 0) {
				return Report{}, fmt.Errorf("result %d (%s): a kernel entry %+v", i, x.Op, k)
			}
		}
	}
	return rep, nil
}

// WriteCSV writes one row per result with a header row. A value the table
// shows as "-" (no device timer, no known peak) is an empty cell, never 0.
func WriteCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"device", "op", "shape", "median_ms", "min_ms", "max_ms", "device_ms", "gflops", "gbps", "peak_pct",
		"kv_bytes", "bandwidth_pct"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	opt := func(v float64) string {
		if v == 0 {
			return ""
		}
		return f(v)
	}
	for _, x := range r.Results {
		_ = cw.Write([]string{r.Device, string(x.Op), Case{Op: x.Op, Shape: x.Shape}.ShapeName(),
			f(x.MedianMs), f(x.MinMs), f(x.MaxMs), opt(x.DeviceMs), f(x.GFLOPs), f(x.GBps), opt(x.PeakPct),
			opt(x.KVBytes), opt(x.BandwidthPct)})
	}
	cw.Flush()
	return cw.Error()
}

// Progress reports which case runs. On a terminal (Lines false) it draws
// "[=====     ] 5/10 name", rewriting one line; elsewhere (a log, a pipe) it
// prints one line per case, "bench 5/10 name", so a long suite shows it is alive.
type Progress struct {
	W     io.Writer
	Total int
	Lines bool
	done  int
}

// Step reports that the case named name is starting.
func (p *Progress) Step(name string) {
	if p == nil || p.W == nil {
		return
	}
	p.done++
	if p.Lines {
		fmt.Fprintf(p.W, "bench %d/%d %s\n", p.done, p.Total, name)
		return
	}
	const width = 24
	filled := width * (p.done - 1) / max(p.Total, 1)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < filled {
			bar[i] = '='
		}
	}
	fmt.Fprintf(p.W, "\r\033[K[%s] %d/%d %s", bar, p.done, p.Total, name)
}

// Done clears the progress line on a terminal.
func (p *Progress) Done() {
	if p != nil && p.W != nil && !p.Lines {
		fmt.Fprint(p.W, "\r\033[K")
	}
}
