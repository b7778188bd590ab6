package gpuoffline

// H100 is what bounds the occupancy of an SM of the H100 (sm_90), from
// NVIDIA's tuning guide: 64K 32-bit registers, allocated per warp in units of
// 256; at most 64 resident warps and 32 resident blocks; 228 KB of shared
// memory per SM, 1 KB of it reserved per block.
var H100 = SMLimits{
	Registers: 65536, RegisterUnit: 256, MaxWarps: 64, MaxBlocks: 32,
	SharedMem: 228 << 10, SharedReservedPerBlock: 1 << 10, WarpSize: 32,
}

// SMLimits are the per-SM resources an NVIDIA GPU shares among resident blocks.
type SMLimits struct {
	Registers, RegisterUnit, MaxWarps, MaxBlocks int
	SharedMem, SharedReservedPerBlock            int
	WarpSize                                     int
}

// Occupancy is the resident warps per SM a kernel can reach and what limits it.
type Occupancy struct {
	Warps   int    // resident warps per SM
	Limiter string // "registers", "shared memory", "warps" or "blocks"
}

// Percent is Warps as a share of the SM's maximum.
func (o Occupancy) Percent(l SMLimits) float64 { return 100 * float64(o.Warps) / float64(l.MaxWarps) }

// Occupancy is the theoretical occupancy of a kernel using registers per
// work-item and sharedBytes of shared memory per work-group of groupSize
// work-items.
func (l SMLimits) Occupancy(registers, sharedBytes, groupSize int) Occupancy {
	warps := max((groupSize+l.WarpSize-1)/l.WarpSize, 1)
	blocks, limiter := l.MaxBlocks, "blocks"
	limit := func(n int, why string) {
		if n < blocks {
			blocks, limiter = n, why
		}
	}
	limit(l.MaxWarps/warps, "warps")
	if registers > 0 {
		perWarp := ceilTo(registers*l.WarpSize, l.RegisterUnit)
		limit(l.Registers/(perWarp*warps), "registers")
	}
	if sharedBytes > 0 {
		limit(l.SharedMem/(sharedBytes+l.SharedReservedPerBlock), "shared memory")
	}
	return Occupancy{Warps: blocks * warps, Limiter: limiter}
}

func ceilTo(n, unit int) int { return (n + unit - 1) / unit * unit }
