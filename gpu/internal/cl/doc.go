// Package cl is clattn's thin OpenCL binding. It loads the OpenCL ICD loader at
// first use with purego (no cgo, no headers), so a machine without OpenCL still
// builds and runs, and CGO_ENABLED=0 builds work.
//
// The API follows github.com/jgillich/go-opencl: Platform, Device, Context,
// CommandQueue, Mem, Program, Kernel and Event. Objects are released explicitly
// with Release, which is idempotent; Live counts the objects not yet released so
// tests can assert that nothing leaks. Every failed OpenCL call returns an error
// wrapping the sentinel of its status (errors.Is(err, ErrOutOfResources)), and a
// failed build returns a *BuildError carrying the compiler's log.
//
// Only clSetKernelArg is not thread-safe: callers must not set the arguments of
// one Kernel from two goroutines at once (nor enqueue it while another sets them).
// Host memory handed to OpenCL is never kept by it after the call returns: reads
// and writes are blocking.
package cl
