package gpu

// Reference devices: what the OpenCL drivers of GPUs clattn ships tilings for
// report, so that their paths can be chosen on any OpenCL device
// (Device.ChooseAs): tests run them on PoCL, and gpu-offline lists what they
// build for the vendors' compilers.
var (
	// H100 is the DeviceInfo that NVIDIA's OpenCL driver reports for an H100 SXM
	// (80 GB): 48 KB of local memory per work-group, work-groups of up to 1024.
	H100 = DeviceInfo{
		Platform: "NVIDIA CUDA", Name: "NVIDIA H100 80GB HBM3", Vendor: "NVIDIA Corporation", Type: "gpu",
		ComputeUnits: 132, ClockMHz: 1980, GlobalMem: 80 << 30, LocalMem: 49152, MaxAlloc: 20 << 30,
		MaxWorkGroupSize: 1024, MaxWorkItemSizes: []int{1024, 1024, 64},
		OpenCLC: "OpenCL C 1.2 ", DriverVersion: "550.54.15", FP64: true, TimerResolutionNs: 1000,
	}
	// MI250X is what ROCm's OpenCL reports for one die (GCD) of an AMD Instinct
	// MI250X (gfx90a): 64 KB of local memory, work-groups of up to 256.
	MI250X = DeviceInfo{
		Platform: "AMD Accelerated Parallel Processing", Name: "gfx90a:sramecc+:xnack-",
		Vendor: "Advanced Micro Devices, Inc.", Type: "gpu",
		ComputeUnits: 110, ClockMHz: 1700, GlobalMem: 64 << 30, LocalMem: 65536, MaxAlloc: 56 << 30,
		MaxWorkGroupSize: 256, MaxWorkItemSizes: []int{1024, 1024, 1024},
		OpenCLC: "OpenCL C 2.0 ", DriverVersion: "3602.0 (HSA1.1,LC)", FP64: true, TimerResolutionNs: 1,
	}
	// GenericGPU is a GPU of no known class at OpenCL 1.2's minimums for local
	// memory (32 KB) and a common work-group limit (256): the generic tilings.
	GenericGPU = DeviceInfo{
		Platform: "Generic OpenCL", Name: "generic GPU", Vendor: "unknown", Type: "gpu",
		ComputeUnits: 16, ClockMHz: 1000, GlobalMem: 8 << 30, LocalMem: 32768, MaxAlloc: 2 << 30,
		MaxWorkGroupSize: 256, MaxWorkItemSizes: []int{256, 256, 256},
		OpenCLC: "OpenCL C 1.2 ", DriverVersion: "1.0", TimerResolutionNs: 1000,
	}
)
