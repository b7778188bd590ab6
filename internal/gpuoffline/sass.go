package gpuoffline

import (
	"regexp"
	"strconv"
	"strings"
)

// LoopMix is the instruction mix of a kernel's hottest inner loop in SASS.
type LoopMix struct {
	Instructions, FFMA int
}

// Share is the FFMA instructions' share of the loop's instructions, in percent.
func (m LoopMix) Share() float64 {
	if m.Instructions == 0 {
		return 0
	}
	return 100 * float64(m.FFMA) / float64(m.Instructions)
}

var sassLine = regexp.MustCompile(`/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;`)

type sassInstr struct {
	addr   int
	text   string
	target int // branch target, -1 if not a branch
}

// HottestLoop reads `cuobjdump -sass` of one kernel and returns the mix of its
// innermost loop (a backward branch whose body holds no other backward
// branch) with the most FFMA instructions: the static figure of how much of the
// inner loop is floating-point multiply-add. ok is false where no loop holds
// an FFMA.
func HottestLoop(sass string) (mix LoopMix, ok bool) {
	var code []sassInstr
	for _, m := range sassLine.FindAllStringSubmatch(sass, -1) {
		addr, err := strconv.ParseInt(m[1], 16, 64)
		if err != nil {
			continue
		}
		in := sassInstr{addr: int(addr), text: m[2], target: -1}
		if f := strings.Fields(in.text); len(f) >= 2 {
			op, arg := f[0], f[1]
			if strings.HasPrefix(op, "@") && len(f) >= 3 {
				op, arg = f[1], f[2]
			}
			if op == "BRA" {
				if t, err := strconv.ParseInt(strings.TrimPrefix(arg, "0x"), 16, 64); err == nil {
					in.target = int(t)
				}
			}
		}
		code = append(code, in)
	}
	type loop struct{ from, to int } // indices into code, inclusive
	var loops []loop
	for i, in := range code {
		if in.target < 0 || in.target > in.addr {
			continue
		}
		for j := i; j >= 0; j-- {
			if code[j].addr == in.target {
				loops = append(loops, loop{j, i})
				break
			}
		}
	}
	for _, l := range loops {
		inner := true
		for _, o := range loops {
			if o != l && o.from >= l.from && o.to <= l.to {
				inner = false
				break
			}
		}
		if !inner {
			continue
		}
		var m LoopMix
		for _, in := range code[l.from : l.to+1] {
			if strings.Contains(in.text, "NOP") {
				continue
			}
			m.Instructions++
			if isFFMA(in.text) {
				m.FFMA++
			}
		}
		if m.FFMA > mix.FFMA {
			mix, ok = m, true
		}
	}
	return mix, ok
}

func isFFMA(text string) bool {
	f := strings.Fields(text)
	if len(f) > 0 && strings.HasPrefix(f[0], "@") {
		f = f[1:]
	}
	return len(f) > 0 && (f[0] == "FFMA" || strings.HasPrefix(f[0], "FFMA."))
}
