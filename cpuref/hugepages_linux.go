package cpuref

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHugePages asks Linux to back the whole huge pages inside the n bytes at
// p with transparent huge pages (madvise MADV_HUGEPAGE, which systems whose THP
// setting is "madvise" wait for). Fresh memory is then faulted in 2 MiB at a
// time as the tensor is first written (memory Go reuses may be collapsed later
// by khugepaged), and a tensor streamed from memory (a decoder's weights and
// K/V cache) crosses a page boundary every 2 MiB instead of every 4 KiB: fewer
// TLB misses and page walks. Linux may refuse (THP off, no memory to compact);
// the tensor works as before then, so the error is not reported.
func adviseHugePages(p unsafe.Pointer, n int) {
	start := (uintptr(p) + hugePageBytes - 1) &^ (hugePageBytes - 1)
	end := (uintptr(p) + uintptr(n)) &^ (hugePageBytes - 1)
	if end <= start {
		return
	}
	inner := unsafe.Slice((*byte)(unsafe.Add(p, start-uintptr(p))), end-start)
	_ = unix.Madvise(inner, unix.MADV_HUGEPAGE)
}
