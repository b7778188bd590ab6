//go:build !purego

package main

const hasKernels = true

//go:noescape
func sumFloats(p *byte, n int) float32

//go:noescape
func sumHalves(p *byte, n int, ahead int) float32
