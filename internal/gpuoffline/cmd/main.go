// Command gpuoffline builds every OpenCL program clattn launches for the H100
// and AMD GPUs with the vendors' compilers and writes the table of registers,
// spills, stack frames, local memory and occupancy (bench/results/gpu-offline.txt).
// Run it through `make gpu-offline`, which fetches the compilers first.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/internal/gpuoffline"
)

func main() {
	cuda := flag.String("cuda", ".tools/cuda", "folder where nvidia-cuda-toolkit's .deb is unpacked (ptxas, cuobjdump under usr/bin)")
	out := flag.String("out", "bench/results/gpu-offline.txt", "table to write")
	flag.Parse()
	if err := run(*cuda, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gpu-offline:", err)
		os.Exit(1)
	}
}

func run(cuda, out string) error {
	tools, err := gpuoffline.FindTools(cuda)
	if err != nil {
		return err
	}
	devices, err := gpu.Devices()
	if err != nil || len(devices) == 0 {
		return fmt.Errorf("no OpenCL device to trace the programs on (PoCL will do: apt-get install pocl-opencl-icd): %v", err)
	}
	scratch, err := os.MkdirTemp("", "gpu-offline-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)

	var rows []gpuoffline.Row
	var failures []string
	for _, p := range gpuoffline.Profiles {
		start := time.Now()
		programs, failed, err := gpuoffline.TracePrograms(devices[0], p)
		if err != nil {
			return fmt.Errorf("%s profile: %w", p.Name, err)
		}
		for _, f := range failed {
			failures = append(failures, p.Name+": "+f)
		}
		r, err := gpuoffline.Build(tools, scratch, p, programs)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
		fmt.Printf("%s: %d programs, %d kernel builds (%.0f s)\n", p.Name, len(programs), len(r), time.Since(start).Seconds())
	}
	var problems, flagged int
	for _, r := range rows {
		if len(r.Problems) > 0 {
			problems++
			fmt.Printf("FAIL %s %s %s: %s\n", r.Target, r.File, r.Usage.Kernel, strings.Join(r.Problems, "; "))
		}
		if len(r.Flags) > 0 {
			flagged++
		}
	}
	err = gpuoffline.WriteFile(out, func(w io.Writer) error {
		fmt.Fprintf(w, "clattn kernels built offline for %s, %s (go run ./internal/gpuoffline/cmd, via make gpu-offline)\n",
			"sm_90 (clang-15 -> PTX, ptxas 11.8)", "gfx90a, gfx940, gfx1030 (clang-15 amdgcn)")
		fmt.Fprintf(w, "programs traced on %s as each profile's device would choose them (Device.ChooseAs): the conformance\n", devices[0].Name)
		fmt.Fprintf(w, "suite's short shapes plus attention at head dims %v.\n", gpuoffline.HeadDims)
		fmt.Fprintf(w, "%d kernel builds: %d with problems (spills, local memory over the limit), %d flagged (stack frame, H100 occupancy < %d warps).\n\n",
			len(rows), problems, flagged, gpuoffline.MinH100Warps)
		return gpuoffline.WriteTable(w, rows)
	})
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d kernel builds, %d with problems, %d flagged\n", out, len(rows), problems, flagged)
	if len(failures) > 0 {
		return fmt.Errorf("the conformance suite failed on the traced paths: %s", strings.Join(failures, ", "))
	}
	if problems > 0 {
		return fmt.Errorf("%d kernel builds spill or exceed local memory", problems)
	}
	return nil
}
