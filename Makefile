# clattn: `make build` compiles everything (also without cgo); `make test` makes
# sure an OpenCL platform and PyTorch exist (installing PoCL and Debian's
# python3-torch where we are root), then vets
# and runs every test with the race detector (after a short fuzz of the
# safetensors reader, a one-minute soak on the OpenCL device, and the OpenCL
# tests under PoCL's other work-group method where it has one).

GO ?= go
OPENCL_PACKAGES := pocl-opencl-icd ocl-icd-libopencl1 clinfo
TORCH_PACKAGES := python3-torch

.PHONY: build test test-second-method opencl pytorch soak gpu-offline

build:
	$(GO) build ./...
	CGO_ENABLED=0 $(GO) build ./...

test: opencl pytorch
	$(GO) vet ./...
	$(GO) test -run '^$$' -fuzz FuzzRead -fuzztime 20s ./safetensors
	$(MAKE) soak
	$(MAKE) test-second-method
	CLATTN_REQUIRE_OPENCL=1 $(GO) test -race ./...

# test-second-method runs the OpenCL tests under PoCL's other work-group compiler
# (CBS), where barrier-in-loop kernels have broken under one and not the other.
# PoCL 3.1 (Debian 12) has no CBS (it knows loopvec, the default, and
# workitemrepl, which takes over 10 minutes for the suite): there the run is
# skipped, saying so. PoCL reads the variable in C, out of sight of Go's test
# cache: -count=1.
test-second-method: opencl
	@if POCL_KERNEL_CACHE=0 POCL_WORK_GROUP_METHOD=cbs $(GO) test -v -count=1 -run 'TestSmokeAndKernelTime$$' ./gpu/ 2>&1 \
		| grep -q 'Unknown work group generation method'; then \
		echo "this PoCL has no CBS work-group method: the second OpenCL run is skipped"; \
	else \
		CLATTN_REQUIRE_OPENCL=1 POCL_WORK_GROUP_METHOD=cbs $(GO) test -race -count=1 ./gpu/...; \
	fi

# soak runs random shapes and masks on the OpenCL device for a minute, each
# result checked against the pure-Go backend; any mismatch fails.
soak: opencl
	$(GO) run ./cmd/gpubench soak --duration 60s --device opencl

# opencl succeeds where `clinfo -l` lists a platform (or, without clinfo, an ICD
# is registered under /etc/OpenCL/vendors); otherwise it installs PoCL as root,
# or says what to install and fails.
opencl:
	@has_platform() { \
		if command -v clinfo >/dev/null 2>&1; then clinfo -l 2>/dev/null | grep -q '^Platform'; \
		else ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1; fi; \
	}; \
	if has_platform; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "no OpenCL platform found; install one, e.g.: sudo apt-get install -y $(OPENCL_PACKAGES)" >&2; \
		exit 1; \
	fi; \
	echo "no OpenCL platform found; installing $(OPENCL_PACKAGES)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update && apt-get install -y $(OPENCL_PACKAGES); \
	if ! has_platform; then echo "still no OpenCL platform after installing PoCL" >&2; exit 1; fi

# gpu-offline builds every OpenCL program the library launches for the H100
# (sm_90: clang-15 to PTX, NVIDIA's ptxas) and AMD's gfx90a, gfx940 and gfx1030
# (clang-15 amdgcn), without a GPU, and writes bench/results/gpu-offline.txt:
# registers, spills, stack frames, local memory and occupancy per kernel. It
# fails on a compile error, a spill or local memory over a device's limit. It
# fetches ptxas from Debian's non-free nvidia-cuda-toolkit (~80 MB, once, into
# .tools/), so it is not part of make test.
gpu-offline: opencl
	bash scripts/gpu-offline.sh

# pytorch succeeds where /usr/bin/python3 imports torch (the README's export
# script is tested end to end); otherwise it installs Debian's python3-torch as
# root, or says what to install and fails.
pytorch:
	@if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "/usr/bin/python3 cannot import torch; install it, e.g.: sudo apt-get install -y $(TORCH_PACKAGES)" >&2; \
		exit 1; \
	fi; \
	echo "/usr/bin/python3 cannot import torch; installing $(TORCH_PACKAGES)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update && apt-get install -y $(TORCH_PACKAGES); \
	/usr/bin/python3 -c 'import torch' || { echo "still no torch after installing $(TORCH_PACKAGES)" >&2; exit 1; }
