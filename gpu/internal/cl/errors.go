package cl

import (
	"fmt"
	"strings"
)

// Error is an OpenCL status code. Each status has one sentinel value below, so
// errors.Is(err, cl.ErrOutOfResources) works through any wrapping.
type Error struct {
	Code int32
	Name string
}

func (e *Error) Error() string { return e.Name }

var statusByCode = map[int32]*Error{}

func status(code int32, name string) *Error {
	e := &Error{Code: code, Name: name}
	statusByCode[code] = e
	return e
}

// Sentinel errors, one per OpenCL status code.
var (
	ErrDeviceNotFound                     = status(-1, "CL_DEVICE_NOT_FOUND")
	ErrDeviceNotAvailable                 = status(-2, "CL_DEVICE_NOT_AVAILABLE")
	ErrCompilerNotAvailable               = status(-3, "CL_COMPILER_NOT_AVAILABLE")
	ErrMemObjectAllocationFailure         = status(-4, "CL_MEM_OBJECT_ALLOCATION_FAILURE")
	ErrOutOfResources                     = status(-5, "CL_OUT_OF_RESOURCES")
	ErrOutOfHostMemory                    = status(-6, "CL_OUT_OF_HOST_MEMORY")
	ErrProfilingInfoNotAvailable          = status(-7, "CL_PROFILING_INFO_NOT_AVAILABLE")
	ErrMemCopyOverlap                     = status(-8, "CL_MEM_COPY_OVERLAP")
	ErrImageFormatMismatch                = status(-9, "CL_IMAGE_FORMAT_MISMATCH")
	ErrImageFormatNotSupported            = status(-10, "CL_IMAGE_FORMAT_NOT_SUPPORTED")
	ErrBuildProgramFailure                = status(-11, "CL_BUILD_PROGRAM_FAILURE")
	ErrMapFailure                         = status(-12, "CL_MAP_FAILURE")
	ErrMisalignedSubBufferOffset          = status(-13, "CL_MISALIGNED_SUB_BUFFER_OFFSET")
	ErrExecStatusErrorForEventsInWaitList = status(-14, "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST")
	ErrCompileProgramFailure              = status(-15, "CL_COMPILE_PROGRAM_FAILURE")
	ErrLinkerNotAvailable                 = status(-16, "CL_LINKER_NOT_AVAILABLE")
	ErrLinkProgramFailure                 = status(-17, "CL_LINK_PROGRAM_FAILURE")
	ErrDevicePartitionFailed              = status(-18, "CL_DEVICE_PARTITION_FAILED")
	ErrKernelArgInfoNotAvailable          = status(-19, "CL_KERNEL_ARG_INFO_NOT_AVAILABLE")
	ErrInvalidValue                       = status(-30, "CL_INVALID_VALUE")
	ErrInvalidDeviceType                  = status(-31, "CL_INVALID_DEVICE_TYPE")
	ErrInvalidPlatform                    = status(-32, "CL_INVALID_PLATFORM")
	ErrInvalidDevice                      = status(-33, "CL_INVALID_DEVICE")
	ErrInvalidContext                     = status(-34, "CL_INVALID_CONTEXT")
	ErrInvalidQueueProperties             = status(-35, "CL_INVALID_QUEUE_PROPERTIES")
	ErrInvalidCommandQueue                = status(-36, "CL_INVALID_COMMAND_QUEUE")
	ErrInvalidHostPtr                     = status(-37, "CL_INVALID_HOST_PTR")
	ErrInvalidMemObject                   = status(-38, "CL_INVALID_MEM_OBJECT")
	ErrInvalidImageFormatDescriptor       = status(-39, "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR")
	ErrInvalidImageSize                   = status(-40, "CL_INVALID_IMAGE_SIZE")
	ErrInvalidSampler                     = status(-41, "CL_INVALID_SAMPLER")
	ErrInvalidBinary                      = status(-42, "CL_INVALID_BINARY")
	ErrInvalidBuildOptions                = status(-43, "CL_INVALID_BUILD_OPTIONS")
	ErrInvalidProgram                     = status(-44, "CL_INVALID_PROGRAM")
	ErrInvalidProgramExecutable           = status(-45, "CL_INVALID_PROGRAM_EXECUTABLE")
	ErrInvalidKernelName                  = status(-46, "CL_INVALID_KERNEL_NAME")
	ErrInvalidKernelDefinition            = status(-47, "CL_INVALID_KERNEL_DEFINITION")
	ErrInvalidKernel                      = status(-48, "CL_INVALID_KERNEL")
	ErrInvalidArgIndex                    = status(-49, "CL_INVALID_ARG_INDEX")
	ErrInvalidArgValue                    = status(-50, "CL_INVALID_ARG_VALUE")
	ErrInvalidArgSize                     = status(-51, "CL_INVALID_ARG_SIZE")
	ErrInvalidKernelArgs                  = status(-52, "CL_INVALID_KERNEL_ARGS")
	ErrInvalidWorkDimension               = status(-53, "CL_INVALID_WORK_DIMENSION")
	ErrInvalidWorkGroupSize               = status(-54, "CL_INVALID_WORK_GROUP_SIZE")
	ErrInvalidWorkItemSize                = status(-55, "CL_INVALID_WORK_ITEM_SIZE")
	ErrInvalidGlobalOffset                = status(-56, "CL_INVALID_GLOBAL_OFFSET")
	ErrInvalidEventWaitList               = status(-57, "CL_INVALID_EVENT_WAIT_LIST")
	ErrInvalidEvent                       = status(-58, "CL_INVALID_EVENT")
	ErrInvalidOperation                   = status(-59, "CL_INVALID_OPERATION")
	ErrInvalidGLObject                    = status(-60, "CL_INVALID_GL_OBJECT")
	ErrInvalidBufferSize                  = status(-61, "CL_INVALID_BUFFER_SIZE")
	ErrInvalidMipLevel                    = status(-62, "CL_INVALID_MIP_LEVEL")
	ErrInvalidGlobalWorkSize              = status(-63, "CL_INVALID_GLOBAL_WORK_SIZE")
	ErrInvalidProperty                    = status(-64, "CL_INVALID_PROPERTY")
	ErrInvalidImageDescriptor             = status(-65, "CL_INVALID_IMAGE_DESCRIPTOR")
	ErrInvalidCompilerOptions             = status(-66, "CL_INVALID_COMPILER_OPTIONS")
	ErrInvalidLinkerOptions               = status(-67, "CL_INVALID_LINKER_OPTIONS")
	ErrInvalidDevicePartitionCount        = status(-68, "CL_INVALID_DEVICE_PARTITION_COUNT")
	ErrInvalidPipeSize                    = status(-69, "CL_INVALID_PIPE_SIZE")
	ErrInvalidDeviceQueue                 = status(-70, "CL_INVALID_DEVICE_QUEUE")
	ErrInvalidSpecID                      = status(-71, "CL_INVALID_SPEC_ID")
	ErrMaxSizeRestrictionExceeded         = status(-72, "CL_MAX_SIZE_RESTRICTION_EXCEEDED")
	ErrPlatformNotFound                   = status(-1001, "CL_PLATFORM_NOT_FOUND_KHR")
)

// StatusError returns the sentinel of an OpenCL status code, nil for CL_SUCCESS,
// and a fresh *Error naming the number for a code this package does not know.
func StatusError(code int32) error {
	if code == 0 {
		return nil
	}
	if e, ok := statusByCode[code]; ok {
		return e
	}
	return &Error{Code: code, Name: fmt.Sprintf("CL_ERROR(%d)", code)}
}

// call wraps a failed status with the name of the OpenCL function that returned it.
func call(fn string, code int32) error {
	if code == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", fn, StatusError(code))
}

// BuildError is a failed clBuildProgram, with the compiler's log for each device.
// It wraps the status (usually ErrBuildProgramFailure).
type BuildError struct {
	Status  error
	Options string
	Log     string
}

func (e *BuildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "clBuildProgram: %v", e.Status)
	if e.Options != "" {
		fmt.Fprintf(&b, " (options %q)", e.Options)
	}
	if log := strings.TrimSpace(e.Log); log != "" {
		b.WriteString(":\n")
		b.WriteString(log)
	}
	return b.String()
}

func (e *BuildError) Unwrap() error { return e.Status }
