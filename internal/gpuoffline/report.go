// Package gpuoffline builds clattn's OpenCL programs with the GPU vendors'
// compilers, without a GPU, and reads what the compilers say about each kernel:
// registers, spills, stack frame, local memory and the occupancy they allow.
//
// NVIDIA: clang compiles OpenCL C to PTX (nvptx64, libclc's builtins), then
// NVIDIA's ptxas assembles it for the H100 (sm_90), the assembler NVIDIA's
// driver runs on the PTX its own OpenCL compiler makes. AMD: clang compiles to
// amdgcn for each listed GPU and prints the same resource usage ROCm's OpenCL
// would give. `make gpu-offline` runs it (scripts/gpu-offline.sh).
package gpuoffline

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Usage is what a compiler reports for one kernel on one target.
type Usage struct {
	Kernel string
	// Registers per work-item: on NVIDIA the 32-bit registers ptxas allocates;
	// on AMD the VGPRs (SGPRs in SGPRs).
	Registers, SGPRs int
	// Spills is bytes of spill stores plus loads (NVIDIA) or the count of
	// spilled VGPRs plus SGPRs (AMD); 0 means every value stays in registers.
	Spills int
	// StackFrame is bytes of per-work-item local (off-chip) memory: a private
	// array or spill the compiler could not keep in registers. On AMD the
	// scratch size per lane.
	StackFrame int
	// LocalMem is the __local (shared, LDS) memory of one work-group, in bytes.
	LocalMem int
	// Occupancy is the AMD compiler's waves per SIMD (0 on NVIDIA: see H100Occupancy).
	Occupancy int
}

var (
	ptxasFunction = regexp.MustCompile(`Compiling entry function '([^']+)'`)
	ptxasFrame    = regexp.MustCompile(`(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads`)
	ptxasUsed     = regexp.MustCompile(`Used (\d+) registers(?:, (\d+) bytes smem)?`)
)

// ParsePtxas reads `ptxas -v` output: one Usage per entry function, in order.
func ParsePtxas(out string) ([]Usage, error) {
	var list []Usage
	cur := -1
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := ptxasFunction.FindStringSubmatch(line); m != nil {
			list = append(list, Usage{Kernel: m[1]})
			cur = len(list) - 1
			continue
		}
		if cur < 0 {
			continue
		}
		u := &list[cur]
		if m := ptxasFrame.FindStringSubmatch(line); m != nil {
			u.StackFrame, u.Spills = atoi(m[1]), atoi(m[2])+atoi(m[3])
		}
		if m := ptxasUsed.FindStringSubmatch(line); m != nil {
			u.Registers = atoi(m[1])
			if m[2] != "" {
				u.LocalMem = atoi(m[2])
			}
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("ptxas printed no entry function:\n%s", out)
	}
	return list, nil
}

var (
	amdRemark = regexp.MustCompile(`remark:\s+(Function Name|SGPRs|VGPRs|ScratchSize \[bytes/lane\]|Occupancy \[waves/SIMD\]|SGPRs Spill|VGPRs Spill|LDS Size \[bytes/block\]):\s*(\S+)`)
)

// ParseAMDRemarks reads clang's -Rpass-analysis=kernel-resource-usage remarks:
// one Usage per function, in order.
func ParseAMDRemarks(out string) ([]Usage, error) {
	var list []Usage
	for _, m := range amdRemark.FindAllStringSubmatch(out, -1) {
		key, val := m[1], m[2]
		if key == "Function Name" {
			list = append(list, Usage{Kernel: val})
			continue
		}
		if len(list) == 0 {
			continue
		}
		u := &list[len(list)-1]
		n := atoi(val)
		switch key {
		case "SGPRs":
			u.SGPRs = n
		case "VGPRs":
			u.Registers = n
		case "ScratchSize [bytes/lane]":
			u.StackFrame = n
		case "Occupancy [waves/SIMD]":
			u.Occupancy = n
		case "SGPRs Spill", "VGPRs Spill":
			u.Spills += n
		case "LDS Size [bytes/block]":
			u.LocalMem = n
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("clang printed no kernel resource usage:\n%s", out)
	}
	return list, nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
