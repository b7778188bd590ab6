package gpu

import (
	"fmt"
	"strings"
	"testing"
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
