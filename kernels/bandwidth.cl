// stream_read reads a buffer once, as a device's memory bandwidth benchmark
// (gpu.Device.ReadBandwidth): work-group g sums its contiguous block of
// perGroup vectors of VW floats, its work-items taking consecutive vectors
// (coalesced on GPUs; one sequential stream per group on CPU devices, whose
// groups are one work-item), and each work-item stores its sum so that the
// reads cannot be optimised away.

#ifndef VW
#define VW 4
#endif

#if VW == 4
#define floatv float4
#elif VW == 16
#define floatv float16
#else
#error "VW must be 4 or 16"
#endif

__kernel void stream_read(__global const floatv *src, int n, int perGroup, __global float *out) {
    const int start = get_group_id(0) * perGroup;
    const int end = min(start + perGroup, n);
    floatv acc = 0.0f;
    for (int i = start + get_local_id(0); i < end; i += get_local_size(0)) {
        acc += src[i];
    }
#if VW == 16
    out[get_global_id(0)] = hsum16(acc);
#else
    out[get_global_id(0)] = (acc.s0 + acc.s1) + (acc.s2 + acc.s3);
#endif
}
