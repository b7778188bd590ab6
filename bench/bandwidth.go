package bench

import "github.com/clattn/clattn/backend"

// BandwidthMeter is implemented by backends that can measure their device's
// read bandwidth: a simple streaming read of a buffer of the given size (far
// larger than the caches), in GB/s (1e9 bytes per second).
type BandwidthMeter interface {
	ReadBandwidth(bytes int) (float64, error)
}

// BandwidthBytes is the buffer MeasureBandwidth streams: 1 GiB, several times
// the last-level cache of today's CPUs and GPUs.
const BandwidthBytes = 1 << 30

// MeasureBandwidth is b's read bandwidth in GB/s, measured now (the decode rows
// of a report are judged against it), or 0 where b cannot measure it.
func MeasureBandwidth(b backend.Backend) (float64, error) {
	m, ok := b.(BandwidthMeter)
	if !ok {
		return 0, nil
	}
	return m.ReadBandwidth(BandwidthBytes)
}

// JudgeBandwidth records the device's read bandwidth gbps in the report and
// sets each decode row's BandwidthPct: its GB/s as a percentage of gbps.
func (r *Report) JudgeBandwidth(gbps float64) {
	r.MemoryGBps = gbps
	for i, x := range r.Results {
		if (x.Op == OpDecode || x.Op == OpDecoderStep) && gbps > 0 {
			r.Results[i].BandwidthPct = 100 * x.GBps / gbps
		}
	}
}
