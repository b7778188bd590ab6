package safetensors_test

import (
	"bytes"
	"fmt"

	"github.com/clattn/clattn/safetensors"
)

func Example() {
	var buf bytes.Buffer
	err := safetensors.Write(&buf, []*safetensors.Tensor{
		safetensors.FromFloat32("linear.weight", []float32{1, 2, 3, 4, 5, 6}, 2, 3),
		safetensors.FromUint8("mask", []uint8{0, 1}, 2),
	}, map[string]string{"kind": "demo"})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := safetensors.Parse(buf.Bytes())
	if err != nil {
		fmt.Println(err)
		return
	}
	w, _ := f.Tensor("linear.weight").Float32s()
	fmt.Println(f.Metadata["kind"], f.Tensor("linear.weight").Shape, w)

	// A truncated file is an error naming the problem, never a panic.
	_, err = safetensors.Parse(buf.Bytes()[:buf.Len()-1])
	fmt.Println(err)
	// Output:
	// demo [2 3] [1 2 3 4 5 6]
	// safetensors: malformed file: tensor "mask": data_offsets [24, 26] out of range: data section is 25 bytes
}
