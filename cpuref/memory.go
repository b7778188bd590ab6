package cpuref

import "github.com/clattn/clattn/internal/sysmem"

// maxElements is the largest tensor Alloc and Upload accept: the host's
// physical memory in float32s where it is known (Go cannot recover from an
// allocation the system refuses, so a larger request is an error instead),
// else as many elements as an int can count in bytes.
var maxElements = sysmem.MaxFloat32s()
