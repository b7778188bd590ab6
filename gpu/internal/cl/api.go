package cl

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// LibraryEnv names the environment variable that, when set, is the one OpenCL
// library to load (a path or a soname). Pointing it at a missing file forces
// the OpenCL path off, which is how the CPU fallback is tested.
const LibraryEnv = "CLATTN_OPENCL_LIB"

// ErrNoLibrary marks a failure to load the OpenCL library or one of its
// required functions.
var ErrNoLibrary = errors.New("OpenCL library not available")

// api is the table of OpenCL entry points, filled once at first use. The C types
// map exactly: size_t and handles are uintptr, cl_uint uint32, cl_int int32,
// cl_ulong/cl_bitfield uint64, pointers unsafe.Pointer.
type api struct {
	getPlatformIDs   func(num uint32, platforms unsafe.Pointer, numRet unsafe.Pointer) int32
	getPlatformInfo  func(platform uintptr, name uint32, size uintptr, value unsafe.Pointer, sizeRet unsafe.Pointer) int32
	getDeviceIDs     func(platform uintptr, typ uint64, num uint32, devices unsafe.Pointer, numRet unsafe.Pointer) int32
	getDeviceInfo    func(device uintptr, name uint32, size uintptr, value unsafe.Pointer, sizeRet unsafe.Pointer) int32
	createContext    func(props unsafe.Pointer, num uint32, devices unsafe.Pointer, notify uintptr, user uintptr, errRet unsafe.Pointer) uintptr
	releaseContext   func(ctx uintptr) int32
	createQueue      func(ctx uintptr, device uintptr, props uint64, errRet unsafe.Pointer) uintptr
	releaseQueue     func(queue uintptr) int32
	finish           func(queue uintptr) int32
	flush            func(queue uintptr) int32
	createBuffer     func(ctx uintptr, flags uint64, size uintptr, host unsafe.Pointer, errRet unsafe.Pointer) uintptr
	releaseMem       func(mem uintptr) int32
	enqueueWrite     func(queue uintptr, mem uintptr, blocking uint32, offset uintptr, size uintptr, ptr unsafe.Pointer, numWait uint32, wait unsafe.Pointer, event unsafe.Pointer) int32
	enqueueRead      func(queue uintptr, mem uintptr, blocking uint32, offset uintptr, size uintptr, ptr unsafe.Pointer, numWait uint32, wait unsafe.Pointer, event unsafe.Pointer) int32
	createProgram    func(ctx uintptr, count uint32, sources unsafe.Pointer, lengths unsafe.Pointer, errRet unsafe.Pointer) uintptr
	buildProgram     func(program uintptr, num uint32, devices unsafe.Pointer, options unsafe.Pointer, notify uintptr, user uintptr) int32
	getBuildInfo     func(program uintptr, device uintptr, name uint32, size uintptr, value unsafe.Pointer, sizeRet unsafe.Pointer) int32
	releaseProgram   func(program uintptr) int32
	createKernel     func(program uintptr, name unsafe.Pointer, errRet unsafe.Pointer) uintptr
	releaseKernel    func(kernel uintptr) int32
	setKernelArg     func(kernel uintptr, index uint32, size uintptr, value unsafe.Pointer) int32
	getWorkGroupInfo func(kernel uintptr, device uintptr, name uint32, size uintptr, value unsafe.Pointer, sizeRet unsafe.Pointer) int32
	enqueueNDRange   func(queue uintptr, kernel uintptr, dims uint32, offset unsafe.Pointer, global unsafe.Pointer, local unsafe.Pointer, numWait uint32, wait unsafe.Pointer, event unsafe.Pointer) int32
	waitForEvents    func(num uint32, events unsafe.Pointer) int32
	getEventInfo     func(event uintptr, name uint32, size uintptr, value unsafe.Pointer, sizeRet unsafe.Pointer) int32
	getProfilingInfo func(event uintptr, name uint32, size uintptr, value unsafe.Pointer, sizeRet unsafe.Pointer) int32
	releaseEvent     func(event uintptr) int32

	// Optional (OpenCL 1.2); nil where the library lacks them.
	enqueueFill func(queue uintptr, mem uintptr, pattern unsafe.Pointer, patternSize uintptr, offset uintptr, size uintptr, numWait uint32, wait unsafe.Pointer, event unsafe.Pointer) int32
}

var (
	loadMu  sync.Mutex
	loaded  *api
	loadErr error
)

// lib returns the function table, loading the library on first use. The result,
// success or failure, is kept for the life of the process.
func lib() (*api, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	if loaded == nil && loadErr == nil {
		loaded, loadErr = loadFrom(candidates())
	}
	return loaded, loadErr
}

// Load loads the OpenCL library if that has not happened yet and reports whether
// it is usable. Every other function of this package calls it implicitly.
func Load() error {
	_, err := lib()
	return err
}

// candidates lists the libraries to try, in order: $CLATTN_OPENCL_LIB alone when
// it is set, else the usual ICD loader names for this system.
func candidates() []string {
	if p := os.Getenv(LibraryEnv); p != "" {
		return []string{p}
	}
	if runtime.GOOS == "darwin" {
		return []string{"/System/Library/Frameworks/OpenCL.framework/OpenCL", "libOpenCL.dylib"}
	}
	return []string{"libOpenCL.so.1", "libOpenCL.so"}
}

// loadFrom opens the first library of paths that loads and has every required
// function; the error names every path that failed and why.
func loadFrom(paths []string) (*api, error) {
	var failures []string
	for _, p := range paths {
		h, err := openLibrary(p)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		a, err := bind(h)
		if err != nil {
			closeLibrary(h)
			failures = append(failures, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		return a, nil
	}
	if len(failures) == 0 {
		return nil, fmt.Errorf("%w: no library to try", ErrNoLibrary)
	}
	return nil, fmt.Errorf("%w: tried %s", ErrNoLibrary, strings.Join(failures, "; "))
}

// bind fills the function table from an opened library.
func bind(h uintptr) (*api, error) {
	a := &api{}
	required := []struct {
		name string
		fptr any
	}{
		{"clGetPlatformIDs", &a.getPlatformIDs},
		{"clGetPlatformInfo", &a.getPlatformInfo},
		{"clGetDeviceIDs", &a.getDeviceIDs},
		{"clGetDeviceInfo", &a.getDeviceInfo},
		{"clCreateContext", &a.createContext},
		{"clReleaseContext", &a.releaseContext},
		{"clCreateCommandQueue", &a.createQueue},
		{"clReleaseCommandQueue", &a.releaseQueue},
		{"clFinish", &a.finish},
		{"clFlush", &a.flush},
		{"clCreateBuffer", &a.createBuffer},
		{"clReleaseMemObject", &a.releaseMem},
		{"clEnqueueWriteBuffer", &a.enqueueWrite},
		{"clEnqueueReadBuffer", &a.enqueueRead},
		{"clCreateProgramWithSource", &a.createProgram},
		{"clBuildProgram", &a.buildProgram},
		{"clGetProgramBuildInfo", &a.getBuildInfo},
		{"clReleaseProgram", &a.releaseProgram},
		{"clCreateKernel", &a.createKernel},
		{"clReleaseKernel", &a.releaseKernel},
		{"clSetKernelArg", &a.setKernelArg},
		{"clGetKernelWorkGroupInfo", &a.getWorkGroupInfo},
		{"clEnqueueNDRangeKernel", &a.enqueueNDRange},
		{"clWaitForEvents", &a.waitForEvents},
		{"clGetEventInfo", &a.getEventInfo},
		{"clGetEventProfilingInfo", &a.getProfilingInfo},
		{"clReleaseEvent", &a.releaseEvent},
	}
	var missing []string
	for _, f := range required {
		sym, err := lookup(h, f.name)
		if err != nil || sym == 0 {
			missing = append(missing, f.name)
			continue
		}
		register(f.fptr, sym)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if sym, err := lookup(h, "clEnqueueFillBuffer"); err == nil && sym != 0 {
		register(&a.enqueueFill, sym)
	}
	return a, nil
}
