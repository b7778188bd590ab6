"""Times PyTorch on a CUDA GPU in fp32 on the shapes of `gpubench bench --suite standard`,
for scripts/device-check.sh. Writes JSON: {"device":..., "torch":..., "results":[{"op","name","shape",
"variant","median_ms","gflops"}]}, names matching clattn's bench case names so ratios can be taken.

  attention  F.scaled_dot_product_attention, each backend that accepts fp32 (math, efficient; flash
             takes only fp16/bf16), batch 4 x 8 heads, seq 4096, head dim 64 and 128, causal and not
  gemm       torch.matmul 4096^3 with TF32 off (x @ w.T, as a Linear layer)
  encoder    nn.TransformerEncoderLayer(1024, 16, 4096), batch 8, seq 512, eval, no grad
"""
import contextlib
import json
import statistics
import sys

import torch
import torch.nn.functional as F


def timed(fn, reps=10, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def sdpa_backends():
    """(name, context manager factory) for each SDPA backend this PyTorch can force."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        return [("math", lambda: sdpa_kernel(SDPBackend.MATH)),
                ("efficient", lambda: sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION)),
                ("flash", lambda: sdpa_kernel(SDPBackend.FLASH_ATTENTION)),
                ("cudnn", lambda: sdpa_kernel(SDPBackend.CUDNN_ATTENTION))]
    except ImportError:
        k = torch.backends.cuda.sdp_kernel
        return [("math", lambda: k(enable_flash=False, enable_math=True, enable_mem_efficient=False)),
                ("efficient", lambda: k(enable_flash=False, enable_math=False, enable_mem_efficient=True)),
                ("flash", lambda: k(enable_flash=True, enable_math=False, enable_mem_efficient=False))]


def attention_flops(b, h, s, d, causal):
    kept = s * (s + 1) / 2 if causal else s * s
    return 4 * b * h * kept * d


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "torch_gpu.json"
    if not torch.cuda.is_available():
        json.dump({"device": None, "torch": torch.__version__, "error": "no CUDA device", "results": []}, open(out, "w"))
        print("torch_gpu: no CUDA device; nothing measured")
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    results = []
    b, h, s = 4, 8, 4096
    for d in (64, 128):
        for causal in (False, True):
            q, k, v = (torch.randn(b, h, s, d, device=dev) for _ in range(3))
            name = f"attention/batch={b}/seq={s}/heads={h}/head_dim={d}" + ("/causal" if causal else "")
            for backend, ctx in sdpa_backends():
                try:
                    with ctx():
                        ms = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
                except Exception as e:  # the backend does not take fp32 or this shape
                    results.append({"op": "attention", "name": name, "variant": backend, "error": str(e).splitlines()[0][:200]})
                    continue
                results.append({"op": "attention", "name": name, "variant": backend, "median_ms": ms,
                                "gflops": attention_flops(b, h, s, d, causal) / ms / 1e6})
    n = 4096
    x, w = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    ms = timed(lambda: x @ w.T)
    results.append({"op": "gemm", "name": f"gemm/m={n}/n={n}/k={n}", "variant": "cublas-fp32-no-tf32",
                    "median_ms": ms, "gflops": 2 * n ** 3 / ms / 1e6})
    bb, seq, e, heads, ff = 8, 512, 1024, 16, 4096
    layer = torch.nn.TransformerEncoderLayer(e, heads, ff, dropout=0.0, batch_first=True).to(dev).eval()
    xs = torch.randn(bb, seq, e, device=dev)
    rows = bb * seq
    flops = 2 * rows * e * 3 * e + 2 * rows * e * e + 4 * bb * heads * seq * seq * (e // heads) + 4 * rows * e * ff + 16 * rows * e
    with torch.no_grad():
        ms = timed(lambda: layer(xs))
    results.append({"op": "encoder", "name": f"encoder/batch={bb}/seq={seq}/d_model={e}/heads={heads}/d_ff={ff}",
                    "variant": "eager-eval", "median_ms": ms, "gflops": flops / ms / 1e6})
    report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "cuda": torch.version.cuda, "results": results}
    json.dump(report, open(out, "w"), indent=1)
    for r in results:
        print(f'{r["name"]:70s} {r["variant"]:22s} ' + (f'{r["median_ms"]:9.3f} ms {r["gflops"]:9.1f} GFLOP/s' if "median_ms" in r else r["error"]))


if __name__ == "__main__":
    main()
