package gpu

import (
	"cmp"
	"slices"
)

// ProgramBuild is one OpenCL program a Device has built: a file of package
// kernels with its build options, and the kernels launched from it.
type ProgramBuild struct {
	File, Options string
	Kernels       []KernelBuild
}

// KernelBuild is one kernel of a ProgramBuild.
type KernelBuild struct {
	Name string
	// GroupSize is the most work-items of any work-group it ran with; 0 where
	// every launch left the size to the driver.
	GroupSize int
}

// Programs lists every program d has built so far, sorted by file and
// options. After ChooseAs(H100) and the same calls, it is exactly what an H100
// would build for them: gpu-offline compiles that list with the vendors'
// compilers.
func (d *Device) Programs() []ProgramBuild {
	d.mu.Lock()
	defer d.mu.Unlock()
	list := make([]ProgramBuild, 0, len(d.programs))
	for key, p := range d.programs {
		p.mu.Lock()
		if p.prog == nil { // its build failed
			p.mu.Unlock()
			continue
		}
		b := ProgramBuild{File: key.file, Options: key.options}
		for name, k := range p.kernels {
			k.mu.Lock()
			b.Kernels = append(b.Kernels, KernelBuild{Name: name, GroupSize: k.groupSize})
			k.mu.Unlock()
		}
		p.mu.Unlock()
		slices.SortFunc(b.Kernels, func(x, y KernelBuild) int { return cmp.Compare(x.Name, y.Name) })
		list = append(list, b)
	}
	slices.SortFunc(list, func(x, y ProgramBuild) int {
		return cmp.Or(cmp.Compare(x.File, y.File), cmp.Compare(x.Options, y.Options))
	})
	return list
}
