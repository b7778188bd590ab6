#!/usr/bin/env bash
# The CPU-side performance targets of clattn, measured side by side in one run:
#   1. the cpu backend's encoder layer (batch 1, seq 512, d_model 512, 8 heads, d_ff 2048)
#      against PyTorch's nn.TransformerEncoderLayer on the CPU (target: ratio <= 2);
#   2. fused attention at seq 16384, 8 heads, head dim 64 on cpu and on OpenCL: peak memory
#      (target: < 1 GB, no S x S matrix);
#   3. our OpenCL GEMM against CLBlast's SGEMM at 1024^3 on the same OpenCL device (target: >= 1).
# Each part says so and goes on where what it needs (PyTorch, OpenCL, CLBlast) is missing.
# Usage: bench/compare/compare.sh [reps]
set -uo pipefail
cd "$(dirname "$0")/../.."
reps=${1:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/gpubench" ./cmd/gpubench || exit 1
py=/usr/bin/python3
[ -x "$py" ] || py=python3
field() { "$py" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "== 1. encoder layer on the CPU: clattn cpu vs PyTorch =="
"$tmp/gpubench" bench --device cpu --op encoder --batch 1 --seq 512 --d-model 512 --heads 8 --d-ff 2048 \
	--reps "$reps" --json "$tmp/enc.json" >/dev/null || exit 1
ours=$(field "$tmp/enc.json" 'd["results"][0]["median_ms"]')
echo "clattn cpu:  $ours ms ($(field "$tmp/enc.json" 'round(d["results"][0]["gflops"],1)') GFLOP/s)"
if "$py" -c 'import torch' 2>/dev/null; then
	blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null)
	echo "BLAS behind PyTorch: ${blas:-unknown}"
	case "$blas" in *openblas*|*mkl*|*blis*) ;; *) echo "warning: not an optimised BLAS; Debian: apt-get install libopenblas0-pthread" ;; esac
	# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE slow current OpenBLAS about 3x on this machine: unset for PyTorch only.
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$py" bench/compare/torch_encoder.py 1 512 512 8 2048 "$reps" >"$tmp/torch.json"
	theirs=$(field "$tmp/torch.json" 'd["median_ms"]')
	echo "PyTorch $(field "$tmp/torch.json" 'd["torch"]') cpu: $theirs ms ($(field "$tmp/torch.json" 'round(d["gflops"],1)') GFLOP/s, $(field "$tmp/torch.json" 'd["threads"]') threads)"
	echo "ratio 1 (clattn time / PyTorch time, target <= 2): $("$py" -c "print(round($ours/$theirs, 2))")"
else
	echo "PyTorch is not installed here (Debian: apt-get install python3-torch): ratio 1 not measured"
fi

echo "== 2. fused attention, seq 16384, 8 heads, head dim 64: peak memory =="
for dev in cpu opencl; do
	if /usr/bin/time -f '%M' -o "$tmp/rss" "$tmp/gpubench" bench --device "$dev" --op attention --batch 1 \
		--seq 16384 --heads 8 --head-dim 64 --warmup 0 --reps 1 --json "$tmp/long-$dev.json" >/dev/null 2>"$tmp/err"; then
		kb=$(cat "$tmp/rss")
		echo "$dev: $(field "$tmp/long-$dev.json" 'round(d["results"][0]["median_ms"])') ms, peak RSS $((kb / 1024)) MiB (target < 1024 MiB)"
	else
		echo "$dev: not run: $(tail -1 "$tmp/err")"
	fi
done

echo "== 3. GEMM 1024^3 on OpenCL: clattn vs CLBlast =="
if "$tmp/gpubench" bench --device opencl --op gemm --batch 1 --seq 1024 --d-model 1024 --d-ff 1024 \
	--reps "$reps" --json "$tmp/gemm.json" >/dev/null 2>"$tmp/err"; then
	ours=$(field "$tmp/gemm.json" 'd["results"][0]["gflops"]')
	echo "clattn on $(field "$tmp/gemm.json" 'd["device"]'): $("$py" -c "print(round($ours,1))") GFLOP/s"
	if cc -O2 -o "$tmp/clblast" bench/compare/clblast_sgemm.c -lclblast -lOpenCL 2>"$tmp/ccerr"; then
		"$tmp/clblast" 1024 "$reps" >"$tmp/clblast.json" || exit 1
		theirs=$(field "$tmp/clblast.json" 'd["gflops"]')
		echo "CLBlast: $("$py" -c "print(round($theirs,1))") GFLOP/s"
		echo "ratio 3 (clattn / CLBlast GFLOP/s, target >= 1): $("$py" -c "print(round($ours/$theirs, 2))")"
	else
		echo "CLBlast is not installed here (Debian: apt-get install libclblast-dev): ratio 3 not measured"
	fi
else
	echo "no OpenCL device: $(tail -1 "$tmp/err")"
fi
