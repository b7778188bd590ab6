package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/clattn/clattn/gpu"
)

func init() {
	register("devices", "list OpenCL devices and the cpu backend, with the spec selecting each", cmdDevices)
}

// deviceRow is one line of `gpubench devices`.
type deviceRow struct {
	Index        int     `json:"index"` // -1 for the cpu backend
	Spec         string  `json:"spec"`
	Platform     string  `json:"platform"`
	Name         string  `json:"name"`
	Type         string  `json:"type"`
	ComputeUnits int     `json:"compute_units"`
	ClockMHz     int     `json:"clock_mhz,omitempty"`
	GlobalMemMiB int64   `json:"global_mem_mib,omitempty"`
	LocalMemKiB  int64   `json:"local_mem_kib,omitempty"`
	OpenCLC      string  `json:"opencl_c,omitempty"`
	Driver       string  `json:"driver,omitempty"`
	FP16         bool    `json:"fp16"`
	FP64         bool    `json:"fp64"`
	PeakGFLOPs   float64 `json:"peak_gflops,omitempty"`
}

// deviceRows lists every OpenCL device (none where OpenCL is missing or lists
// none: listErr says why) and the cpu backend last.
func deviceRows() (rows []deviceRow, listErr error) {
	infos, err := gpu.Devices()
	if err == nil && len(infos) == 0 {
		err = noPlatformError()
	}
	for _, d := range infos {
		peak, _ := peakGFLOPs(d)
		rows = append(rows, deviceRow{Index: d.Index, Spec: fmt.Sprintf("opencl:%d", d.Index), Platform: d.Platform,
			Name: d.Name, Type: d.Type, ComputeUnits: d.ComputeUnits, ClockMHz: d.ClockMHz,
			GlobalMemMiB: d.GlobalMem >> 20, LocalMemKiB: d.LocalMem >> 10, OpenCLC: d.OpenCLC,
			Driver: d.DriverVersion, FP16: d.FP16, FP64: d.FP64, PeakGFLOPs: peak})
	}
	rows = append(rows, deviceRow{Index: -1, Spec: "cpu", Platform: "pure Go", Name: "cpuref (all cores)",
		Type: "cpu", ComputeUnits: cpuCount(), FP64: true})
	return rows, err
}

// The variables by which the ICD loader (ocl-icd, Khronos') is pointed at drivers.
const (
	icdVendorsEnv   = "OCL_ICD_VENDORS"   // a folder of .icd files, or one .icd file
	icdFilenamesEnv = "OCL_ICD_FILENAMES" // driver libraries, ':'-separated
	icdVendorsDir   = "/etc/OpenCL/vendors"
)

// noPlatformError explains an OpenCL loader that loaded but found no device:
// where it looked for drivers, and why a driver that is there may be left out.
func noPlatformError() error {
	where, dir := icdVendorsDir, icdVendorsDir
	if v := os.Getenv(icdVendorsEnv); v != "" {
		where, dir = "$"+icdVendorsEnv+"="+v, v
	}
	icds := []string{dir}
	if st, err := os.Stat(dir); err != nil || st.IsDir() {
		icds, _ = filepath.Glob(filepath.Join(dir, "*.icd"))
	}
	found := "no .icd file there"
	if len(icds) > 0 {
		names := make([]string, len(icds))
		for i, p := range icds {
			names[i] = filepath.Base(p)
			if lib, err := os.ReadFile(p); err == nil {
				names[i] += " -> " + strings.TrimSpace(string(lib))
			}
		}
		found = strings.Join(names, ", ") + ": a driver that fails to start is left out (PoCL needs a writable cache folder: $POCL_CACHE_DIR, else $XDG_CACHE_HOME or $HOME/.cache; POCL_DEBUG=1 says why)"
	}
	msg := fmt.Sprintf("the OpenCL loader found no platform; it looked in %s: %s", where, found)
	if v := os.Getenv(icdFilenamesEnv); v != "" {
		msg += fmt.Sprintf("; and $%s=%s", icdFilenamesEnv, v)
	}
	return errors.New(msg)
}

func cmdDevices(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("devices", stderr, "[--json]")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	rows, listErr := deviceRows()
	if *asJSON {
		out := struct {
			Devices []deviceRow `json:"devices"`
			OpenCL  string      `json:"opencl_error,omitempty"`
		}{Devices: rows}
		if listErr != nil {
			out.OpenCL = listErr.Error()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printDevices(stdout, rows, listErr)
	return nil
}

func printDevices(w io.Writer, rows []deviceRow, listErr error) {
	if listErr != nil {
		fmt.Fprintf(w, "no OpenCL: %v\n", listErr)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tSPEC\tPLATFORM\tNAME\tTYPE\tCUs\tMEMORY\tOPENCL C\tFP16\tFP64")
	for _, r := range rows {
		idx, mem := fmt.Sprint(r.Index), fmt.Sprintf("%d MiB", r.GlobalMemMiB)
		if r.Index < 0 {
			idx, mem = "-", "host"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", idx, r.Spec, short(r.Platform, 28), short(r.Name, 40),
			r.Type, r.ComputeUnits, mem, orDash(r.OpenCLC), yesNo(r.FP16), yesNo(r.FP64))
	}
	tw.Flush()
}

func short(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
