#!/usr/bin/env bash
# The one prepared GPU check: clattn on a real GPU through its vendor's OpenCL driver,
# verified and benchmarked next to PyTorch on the same card.
#
#   scripts/device-check.sh build     (here) builds a static gpubench (CGO_ENABLED=0, linux/amd64)
#                                     and gathers what the run needs into .device/ (git-ignored):
#                                     the binary, golden cases, PyTorch scripts, Debian's ICD loader
#   scripts/device-check.sh run [D]   (there, or here to rehearse on PoCL with D=opencl) makes NVIDIA's
#                                     OpenCL reachable, runs devices, verify, golden and the standard
#                                     bench on device D (default opencl:gpu), then PyTorch on the same
#                                     card, and writes everything under $OUT (default ./device-out)
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
kit=.device

case "$mode" in
build)
	set -e
	rm -rf "$kit" && mkdir -p "$kit/golden"
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o "$kit/gpubench" ./cmd/gpubench
	cp testdata/golden/*.safetensors "$kit/golden/"
	cp bench/compare/torch_gpu.py bench/compare/ratios.py "$kit/"
	# An ICD loader in case the GPU machine has none: Debian's ocl-icd, unpacked there on demand.
	(cd "$kit" && apt-get download ocl-icd-libopencl1 >/dev/null 2>&1) || echo "note: could not download ocl-icd-libopencl1; the GPU machine must have libOpenCL.so.1"
	du -sh "$kit"
	;;
run)
	device=${2:-opencl:gpu}
	out=${OUT:-$PWD/device-out}
	mkdir -p "$out"
	exec > >(tee "$out/log.txt") 2>&1
	echo "== OpenCL driver =="
	icd=""
	for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64; do
		[ -e "$dir/libnvidia-opencl.so.1" ] && { icd="$dir/libnvidia-opencl.so.1"; break; }
	done
	[ -n "$icd" ] || icd=$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl.so.1/ {print $NF; exit}')
	if [ -n "$icd" ]; then
		echo "NVIDIA OpenCL driver: $icd"
		mkdir -p /etc/OpenCL/vendors
		[ -e /etc/OpenCL/vendors/nvidia.icd ] || echo "$icd" >/etc/OpenCL/vendors/nvidia.icd
		echo "ICD file: /etc/OpenCL/vendors/nvidia.icd -> $(cat /etc/OpenCL/vendors/nvidia.icd)"
	else
		echo "no libnvidia-opencl.so.1 found (fine for a PoCL rehearsal)"
	fi
	loader=$(ldconfig -p 2>/dev/null | awk '/libOpenCL.so.1/ {print $NF; exit}')
	for f in /usr/local/cuda/lib64/libOpenCL.so.1 /usr/local/cuda/targets/x86_64-linux/lib/libOpenCL.so.1; do
		[ -z "$loader" ] && [ -e "$f" ] && loader=$f
	done
	if [ -z "$loader" ] && ls "$kit"/ocl-icd-libopencl1_*.deb >/dev/null 2>&1; then
		dpkg -x "$kit"/ocl-icd-libopencl1_*.deb /tmp/ocl-icd && loader=$(find /tmp/ocl-icd -name 'libOpenCL.so.1*' | head -1)
	fi
	echo "ICD loader: ${loader:-none found}"
	[ -n "$loader" ] && export CLATTN_OPENCL_LIB=$loader
	bin=$kit/gpubench
	[ -x "$bin" ] || { echo "no $bin: run 'scripts/device-check.sh build' first"; exit 1; }
	command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv | tee "$out/nvidia-smi.csv"
	status=0
	echo "== devices ==";  "$bin" devices --json >"$out/devices.json"; "$bin" devices || status=1
	echo "== verify ==";   "$bin" verify --device "$device" | tee "$out/verify.txt"; [ "${PIPESTATUS[0]}" = 0 ] || status=1
	echo "== golden ==";   "$bin" golden --device "$device" "$kit"/golden/*.safetensors | tee "$out/golden.txt"; [ "${PIPESTATUS[0]}" = 0 ] || status=1
	echo "== bench ==";    "$bin" bench --suite "${SUITE:-standard}" --device "$device" --quiet --json "$out/bench.json" --plot "$out/bench.png" || status=1
	echo "== PyTorch on the same card =="
	if python3 -c 'import torch' 2>/dev/null; then
		python3 "$kit/torch_gpu.py" "$out/torch.json" || status=1
		[ -s "$out/bench.json" ] && [ -s "$out/torch.json" ] && python3 "$kit/ratios.py" "$out/bench.json" "$out/torch.json" | tee "$out/ratios.txt"
	else
		echo "PyTorch not installed: no comparison"
	fi
	echo "== done: status $status, files in $out =="
	exit $status
	;;
*)
	sed -n '2,15p' "$0"
	exit 2
	;;
esac
