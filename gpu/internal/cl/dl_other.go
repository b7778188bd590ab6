//go:build !((darwin || freebsd || linux || netbsd) && !android)

package cl

import (
	"errors"
	"runtime"
)

var errUnsupported = errors.New("loading OpenCL at run time is not supported on " + runtime.GOOS)

func openLibrary(string) (uintptr, error) { return 0, errUnsupported }

func closeLibrary(uintptr) {}

func lookup(uintptr, string) (uintptr, error) { return 0, errUnsupported }

func register(any, uintptr) {}
