"""Prints clattn/PyTorch ratios on the same GPU from `gpubench bench --json` and torch_gpu.py's JSON.

Usage: ratios.py CLATTN.json TORCH.json  -> a table; 'speedup' > 1 means clattn is faster.
Targets (issue 6): fused attention >= PyTorch SDPA's best fp32 time; GEMM >= 0.7x cuBLAS fp32 (no TF32)
and >= 50% of peak; encoder layer >= 0.8x PyTorch eager fp32.
"""
import json
import sys

ours = json.load(open(sys.argv[1]))
theirs = json.load(open(sys.argv[2]))
best = {}
for r in theirs.get("results", []):
    if "median_ms" in r and (r["name"] not in best or r["median_ms"] < best[r["name"]]["median_ms"]):
        best[r["name"]] = r
target = {"attention": 1.0, "gemm": 0.7, "encoder": 0.8}
print(f'clattn on {ours["device"]}  vs  PyTorch {theirs.get("torch")} on {theirs.get("device")}')
print(f'{"case":70s} {"clattn ms":>10s} {"torch ms":>10s} {"torch variant":>20s} {"speedup":>8s} {"target":>7s}')
for r in ours["results"]:
    t = best.get(r["name"])
    if t is None:
        continue
    ms = r["median_ms"]  # wall time, waits included: no kinder to clattn than CUDA events are to PyTorch
    speedup = t["median_ms"] / ms
    goal = target.get(r["op"], 0)
    verdict = "ok" if speedup >= goal else "short"
    print(f'{r["name"]:70s} {ms:10.3f} {t["median_ms"]:10.3f} {t["variant"]:>20s} {speedup:8.2f} {goal:>5.1f} {verdict}')
    if r["op"] == "gemm" and r.get("peak_pct"):
        print(f'{"":70s} GEMM at {r["peak_pct"]:.1f}% of the estimated fp32 peak (target 50%)')
