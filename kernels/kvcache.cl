// write_kv copies float32 heads src [B, H, n, D] (a strided view) into positions
// pos ... pos+n-1 of a KV cache [B, H, cap, D] (backend.WriteKV), one work-item
// per element, the elements along dimension 0. With KV_HALF the cache is half,
// written with vstore_half_rte (round to nearest, ties to even: the rounding of
// backend.Float16Bits); every other position of the cache is left as it was.
__kernel void write_kv(__global kv_t *cache, int heads, int cap, int dim, int pos, int n,
                       __global const float *src, int sOff, int sB, int sH, int sS, int total) {
    const int idx = get_global_id(0);
    if (idx >= total) {
        return;
    }
    const int d = idx % dim;
    const int row = idx / dim; // (b*heads + h)*n + s
    const int s = row % n;
    const int bh = row / n;
    const int b = bh / heads;
    const int h = bh - b * heads;
    const float x = src[sOff + b * sB + h * sH + s * sS + d];
    const int at = (bh * cap + pos + s) * dim + d;
#ifdef KV_HALF
    vstore_half_rte(x, at, cache);
#else
    cache[at] = x;
#endif
}
