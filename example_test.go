package clattn_test

import (
	"fmt"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/backend"
)

// Choosing a device: "" or "auto" takes $CLATTN_DEVICE where it is set, else
// the best OpenCL GPU, and falls back to the pure-Go backend by itself; an
// explicit OpenCL spec fails where there is no such device, so fall back to
// "cpu" yourself. Every backend computes the same answers, so code written
// against backend.Backend runs anywhere.
func ExampleOpen() {
	be, err := clattn.Open("opencl:gpu") // or "", "auto", "opencl:1", "opencl:nvidia", "opencl:cpu" (PoCL)
	if err != nil {
		// No OpenCL GPU here: the pure-Go backend always opens.
		be, err = clattn.Open("cpu")
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer be.Close()
	// be.Name() says which device it is ("cpu", "opencl:0 NVIDIA H100 ..."); it
	// depends on the machine, so this example prints only that the work ran.
	x, err := be.Upload([]float32{1, 2, 3, 4}, 1, 4)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer x.Release()
	y, _ := be.Alloc(1, 4)
	defer y.Release()
	err = be.LayerNorm(y, x, backend.LayerNormOptions{})
	got := make([]float32, 4)
	if err == nil {
		err = be.Download(got, y)
	}
	fmt.Println("ran on some device:", err == nil && be.Name() != "")
	fmt.Printf("%.3f\n", got)
	// Output:
	// ran on some device: true
	// [-1.342 -0.447 0.447 1.342]
}
