"""Times PyTorch's nn.TransformerEncoderLayer on the CPU for bench/compare/compare.sh.

Prints one JSON line: {"torch": version, "median_ms": ..., "gflops": ..., "threads": ...}.
The FLOP count is the one clattn's bench package uses for the encoder op.
"""
import json
import os
import statistics
import sys
import time

import torch

batch, seq, d_model, heads, d_ff = (int(a) for a in sys.argv[1:6])
reps = int(sys.argv[6]) if len(sys.argv) > 6 else 5
# All cores, as clattn's cpu backend uses (this PyTorch build otherwise starts with one OpenMP thread).
torch.set_num_threads(os.cpu_count())
torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(d_model, heads, d_ff, dropout=0.0, batch_first=True).eval()
x = torch.randn(batch, seq, d_model)
times = []
with torch.no_grad():
    layer(x)
    for _ in range(reps):
        t0 = time.perf_counter()
        layer(x)
        times.append((time.perf_counter() - t0) * 1e3)
rows = batch * seq
flops = 2 * rows * d_model * 3 * d_model + 2 * rows * d_model * d_model \
    + 4 * batch * heads * seq * seq * (d_model // heads) + 4 * rows * d_model * d_ff + 16 * rows * d_model
med = statistics.median(times)
print(json.dumps({"torch": torch.__version__, "median_ms": med, "gflops": flops / med / 1e6,
                  "threads": torch.get_num_threads()}))
