// layernorm_cpu.cl: layer_norm_cpu and rms_norm_cpu are layer_norm and
// rms_norm (layernorm.cl) for CPU devices such as PoCL: one row per work-item
// (global id 0, rows past the last return), float16 vectors along the row and
// no barriers, with the same buffers, passes and results.

__kernel void layer_norm_cpu(__global float *dst, __global const float *x, __global const float *residual,
                             __global const float *gamma, __global const float *beta,
                             const int rows, const int cols, const float eps,
                             const int has_residual, const int has_gamma, const int has_beta) {
	const int row = get_global_id(0);
	if (row >= rows || cols == 0) {
		return;
	}
	const size_t base = (size_t)row * (size_t)cols;
	__global const float *xr = x + base;
	__global const float *rr = residual + (has_residual ? base : 0);
	__global float *yr = dst + base;
	const int vec = cols & ~15;

	// The shift, read before anything is written (dst may be x or residual).
	const float shift = has_residual ? xr[0] + rr[0] : xr[0];

	// Pass 1: y = x + residual, stored in dst, and the mean of y - shift.
	float16 s16 = 0.0f;
	for (int j = 0; j < vec; j += 16) {
		float16 y = vload16(0, xr + j);
		if (has_residual) {
			y += vload16(0, rr + j);
		}
		vstore16(y, 0, yr + j);
		s16 += y - shift;
	}
	float sum = hsum16(s16);
	for (int j = vec; j < cols; j++) {
		const float y = has_residual ? xr[j] + rr[j] : xr[j];
		yr[j] = y;
		sum += y - shift;
	}
	const float mean = sum / (float)cols;

	// Pass 2: the biased variance from squared deviations.
	float16 q16 = 0.0f;
	for (int j = 0; j < vec; j += 16) {
		const float16 d = (vload16(0, yr + j) - shift) - mean;
		q16 = fma(d, d, q16);
	}
	float sq = hsum16(q16);
	for (int j = vec; j < cols; j++) {
		const float d = (yr[j] - shift) - mean;
		sq += d * d;
	}
	const float rstd = 1.0f / sqrt(sq / (float)cols + eps);

	// Pass 3: normalise, scale and shift.
	for (int j = 0; j < vec; j += 16) {
		float16 v = ((vload16(0, yr + j) - shift) - mean) * rstd;
		if (has_gamma) {
			v *= vload16(0, gamma + j);
		}
		if (has_beta) {
			v += vload16(0, beta + j);
		}
		vstore16(v, 0, yr + j);
	}
	for (int j = vec; j < cols; j++) {
		float v = ((yr[j] - shift) - mean) * rstd;
		if (has_gamma) {
			v *= gamma[j];
		}
		if (has_beta) {
			v += beta[j];
		}
		yr[j] = v;
	}
}

// rms_norm_cpu is layernorm.cl's rms_norm for CPU devices: one row per work-item
// (global id 0, rows past the last return), float16 vectors along the row, no barriers.
__kernel void rms_norm_cpu(__global float *dst, __global const float *x, __global const float *residual,
                            __global float *residual_out, __global const float *weight, const int rows,
                            const int cols, const float eps, const int has_residual,
                            const int has_residual_out, const int has_weight) {
	const int row = get_global_id(0);
	if (row >= rows || cols == 0) {
		return;
	}
	const size_t base = (size_t)row * (size_t)cols;
	__global const float *xr = x + base;
	__global const float *rr = residual + (has_residual ? base : 0);
	__global float *ro = residual_out + (has_residual_out ? base : 0);
	__global float *yr = dst + base;
	const int vec = cols & ~15;

	float16 q16 = 0.0f;
	for (int j = 0; j < vec; j += 16) {
		float16 y = vload16(0, xr + j);
		if (has_residual) {
			y += vload16(0, rr + j);
		}
		q16 = fma(y, y, q16);
	}
	float sq = hsum16(q16);
	for (int j = vec; j < cols; j++) {
		const float y = has_residual ? xr[j] + rr[j] : xr[j];
		sq = fma(y, y, sq);
	}
	const float rstd = 1.0f / sqrt(sq / (float)cols + eps);

	for (int j = 0; j < vec; j += 16) {
		float16 y = vload16(0, xr + j);
		if (has_residual) {
			y += vload16(0, rr + j);
		}
		if (has_residual_out) {
			vstore16(y, 0, ro + j);
		}
		float16 v = y * rstd;
		if (has_weight) {
			v *= vload16(0, weight + j);
		}
		vstore16(v, 0, yr + j);
	}
	for (int j = vec; j < cols; j++) {
		const float y = has_residual ? xr[j] + rr[j] : xr[j];
		if (has_residual_out) {
			ro[j] = y;
		}
		const float v = y * rstd;
		yr[j] = has_weight ? v * weight[j] : v;
	}
}
