//go:build (darwin || freebsd || linux || netbsd) && !android

package cl

import "github.com/ebitengine/purego"

func openLibrary(path string) (uintptr, error) {
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

func closeLibrary(h uintptr) { _ = purego.Dlclose(h) }

func lookup(h uintptr, name string) (uintptr, error) { return purego.Dlsym(h, name) }

func register(fptr any, sym uintptr) { purego.RegisterFunc(fptr, sym) }
