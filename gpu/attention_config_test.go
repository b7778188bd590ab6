package gpu

import (
	"fmt"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
)

func TestAttentionConfigFor(t *testing.T) {
	nvidia := DeviceInfo{Type: "gpu", Vendor: "NVIDIA Corporation", LocalMem: 48 << 10, MaxWorkGroupSize: 1024}
	if c := ProfileOf(nvidia).attention; c != attentionConfigNVIDIA {
		t.Errorf("NVIDIA got %+v", c)
	}
	cpu := DeviceInfo{Type: "cpu", LocalMem: 1 << 20, MaxWorkGroupSize: 4096}
	if c := ProfileOf(cpu).attention; c != attentionConfigCPU {
		t.Errorf("CPU got %+v", c)
	}
	small := DeviceInfo{Type: "gpu", Vendor: "Intel", LocalMem: 32 << 10, MaxWorkGroupSize: 64}
	c := ProfileOf(small).attention
	if c.SoftmaxGroup > 64 || (c.TM/c.RM)*(c.TN/c.RN) > 64 {
		t.Errorf("work-groups over the device limit of 64: %+v", c)
	}
	if _, err := c.fusedFor(small, 64, 64); err != nil {
		t.Errorf("d=64 on a 32 KB, 64-item device: %v", err)
	}
}

// TestFusedForFitsLocalMemory checks that the fused tiles shrink until they fit
// NVIDIA's 48 KB of local memory, and that the default is kept where it fits.
func TestFusedForFitsLocalMemory(t *testing.T) {
	nvidia := DeviceInfo{Type: "gpu", Vendor: "NVIDIA Corporation", LocalMem: 48 << 10, MaxWorkGroupSize: 1024}
	c := ProfileOf(nvidia).attention
	for _, d := range []int{1, 3, 24, 59, 64, 80, 128, 256, 512} {
		fk, err := c.fusedFor(nvidia, d, d)
		if err != nil {
			t.Errorf("d=%d: %v", d, err)
			continue
		}
		var bm, bn, tr, tc, lpad, dkp, dvp int
		if _, err := fmt.Sscanf(strings.Join(fk.options, " "), "-DBM=%d -DBN=%d -DTR=%d -DTC=%d -DLPAD=%d -DDKP=%d -DDVP=%d",
			&bm, &bn, &tr, &tc, &lpad, &dkp, &dvp); err != nil {
			t.Fatalf("d=%d: options %q: %v", d, fk.options, err)
		}
		bytes := flashLocalBytes(bm, bn, tc, lpad, dkp, dvp)
		if bytes > 48<<10 || bm%tr != 0 || bn%tc != 0 || dkp < d || fk.rows != bm {
			t.Errorf("d=%d: %v uses %d bytes", d, fk.options, bytes)
		}
		if d == 64 && (bm != c.BM || bn != c.BN) {
			t.Errorf("d=64 should keep the default tiles, got %v", fk.options)
		}
		// d=128 keeps 32 keys and 4 rows per work-item: 32 rows on 8x16 items.
		if d == 128 && (bm != 32 || bn != 32 || tr != 8 || tc != 16) {
			t.Errorf("d=128 should get 32 rows x 32 keys on 8x16 items, got %v", fk.options)
		}
	}
	tiny := DeviceInfo{Type: "cpu", LocalMem: 1 << 10, MaxWorkGroupSize: 64}
	if _, err := ProfileOf(tiny).attention.fusedFor(tiny, 4096, 64); err == nil {
		t.Error("d=4096 in 1 KB of local memory: want an error")
	}
}

// TestDecodePlan checks the decode splits for the CPU and GPU kernels over
// shapes from one key to 128k: the slices cover the keys exactly (the last one
// not empty), the work-groups of an H100 fill its units, the local memory and
// work-group fit, and a call whose partials would be too large is refused (it
// takes the prefill kernel).
func TestDecodePlan(t *testing.T) {
	cpu := DeviceInfo{Type: "cpu", ComputeUnits: 2, LocalMem: 2 << 20, MaxWorkGroupSize: 4096, MaxAlloc: 2 << 30}
	for _, info := range []DeviceInfo{H100, cpu} {
		c := ProfileOf(info).attention
		for _, dims := range []backend.AttentionDims{
			{Batch: 1, Heads: 32, HeadsKV: 8, SeqQ: 1, SeqK: 32768, DimK: 128, DimV: 128},
			{Batch: 1, Heads: 32, HeadsKV: 8, SeqQ: 1, SeqK: 131072, DimK: 128, DimV: 128},
			{Batch: 1, Heads: 4, HeadsKV: 1, SeqQ: 1, SeqK: 1, DimK: 8, DimV: 8},
			{Batch: 2, Heads: 32, HeadsKV: 1, SeqQ: 16, SeqK: 1025, DimK: 256, DimV: 256},
			{Batch: 3, Heads: 6, HeadsKV: 3, SeqQ: 5, SeqK: 4099, DimK: 80, DimV: 24},
		} {
			p, err := decodePlanFor(c, info, dims)
			if err != nil {
				t.Errorf("%s %+v: %v", info.Name, dims, err)
				continue
			}
			if p.splits*p.sliceLen < dims.SeqK || (p.splits-1)*p.sliceLen >= max(dims.SeqK, 1) || p.sliceLen%16 != 0 {
				t.Errorf("%s %+v: %d splits of %d keys do not cover %d keys exactly", info.Name, dims, p.splits, p.sliceLen, dims.SeqK)
			}
			if p.rb*p.rowBlocks < dims.Group()*dims.SeqQ {
				t.Errorf("%s %+v: %d blocks of %d rows miss some of %d", info.Name, dims, p.rowBlocks, p.rb, dims.Group()*dims.SeqQ)
			}
			if c.CPU {
				continue
			}
			if p.local%p.rb != 0 || p.local > info.MaxWorkGroupSize || p.sl < p.sliceLen {
				t.Errorf("%s %+v: %d work-items, %d rows, score block %d for %d keys", info.Name, dims, p.local, p.rb, p.sl, p.sliceLen)
			}
			if b := decodeLocalBytes(p.rb, p.sl, p.local, p.dkp, p.dvp); b > info.LocalMem {
				t.Errorf("%s %+v: %d bytes of local memory, the device has %d", info.Name, dims, b, info.LocalMem)
			}
			if groups := p.groupsPerSplit * p.splits; dims.SeqK >= 32768 && groups < 2*info.ComputeUnits {
				t.Errorf("%s %+v: %d work-groups for %d compute units", info.Name, dims, groups, info.ComputeUnits)
			}
		}
		huge := backend.AttentionDims{Batch: 64, Heads: 64, HeadsKV: 64, SeqQ: 16, SeqK: 1 << 20, DimK: 128, DimV: 128}
		if p, err := decodePlanFor(c, info, huge); err == nil && !c.CPU {
			t.Errorf("%s: %d splits of %d rows accepted (%d bytes of partials)", info.Name, p.splits, 64*64*16, p.scratchBytes(huge))
		}
	}
}
