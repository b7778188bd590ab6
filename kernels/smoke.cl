// smoke.cl: the smallest useful kernel, run by the smoke test and `gpubench`
// to prove that a device builds, launches and returns correct results.

// vec_add: c[i] = a[i] + b[i] for i < n (the global size may be padded past n).
__kernel void vec_add(__global const float *a, __global const float *b, __global float *c, const int n) {
	const int i = get_global_id(0);
	if (i < n) {
		c[i] = a[i] + b[i];
	}
}
