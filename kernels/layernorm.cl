// layernorm.cl: LayerNorm and RMSNorm over the last dimension with a fused residual add.
//
// layer_norm (GPUs): one work-group normalises one row. The host launches global {rows, L}, local
// {1, L} with L a power of two (rows along dimension 0, which allows far more
// work-groups than NVIDIA's 65535 along dimensions 1 and 2); a group with
// get_group_id(1) > 0 returns at once, so the host may halve L on
// CL_INVALID_WORK_GROUP_SIZE without changing the global size. The variance is two-pass (mean first, then the mean of squared
// deviations) and biased, as PyTorch: never E[y^2] - E[y]^2. Both passes work on
// deviations from the row's first element, which are exact in float32 where the
// values lie close together (mean 1e4, spread 1e-3): a plain float32 mean would
// be off by half an ulp of 1e4, as large as the spread itself. mean below is the
// mean of y - shift. layer_norm_cpu (layernorm_cpu.cl, for CPU devices) gives
// each row to one work-item instead.

// group_sum returns the sum of v over the work-group: GROUP_SUM_LANES items add
// strided slices, then every item adds their partial sums, in a fixed order (so
// results are reproducible). scratch holds get_local_size(1) + GROUP_SUM_LANES
// floats. There is deliberately no barrier inside a loop: PoCL 3.1's pthread
// device miscompiled the pairwise tree reduction (barrier in a loop), corrupting
// the first work-item's values about once in a hundred launches.
static float group_sum(float v, __local float *scratch) {
	const int lid = get_local_id(1);
	const int size = get_local_size(1);
	__local float *partial = scratch + size;
	scratch[lid] = v;
	barrier(CLK_LOCAL_MEM_FENCE);
	if (lid < GROUP_SUM_LANES) {
		float s = 0.0f;
		for (int i = lid; i < size; i += GROUP_SUM_LANES) {
			s += scratch[i];
		}
		partial[lid] = s;
	}
	barrier(CLK_LOCAL_MEM_FENCE);
	float sum = 0.0f;
	for (int i = 0; i < min(size, GROUP_SUM_LANES); i++) {
		sum += partial[i];
	}
	barrier(CLK_LOCAL_MEM_FENCE); // scratch is reused by the next call
	return sum;
}

// layer_norm: for each row r of cols elements, y = x + residual (if has_residual),
// dst = (y - mean(y)) / sqrt(var(y) + eps) * gamma + beta, where gamma and beta
// are read only if has_gamma / has_beta (else 1 and 0). dst may be x or
// residual: each work-item reads its own elements before writing them.
__kernel void layer_norm(__global float *dst, __global const float *x, __global const float *residual,
                         __global const float *gamma, __global const float *beta,
                         const int cols, const float eps,
                         const int has_residual, const int has_gamma, const int has_beta, __local float *scratch) {

	if (get_group_id(1) != 0 || cols == 0) {
		return;
	}
	const int lid = get_local_id(1);
	const int step = get_local_size(1);
	const size_t base = (size_t)get_global_id(0) * (size_t)cols;
	__global const float *xr = x + base;
	__global float *yr = dst + base;

	// The shift: y of the row's first element, broadcast to the group by a sum
	// with zeros (exact) before anything is written, since dst may be x or residual.
	// Deviations from it are exact in float32 where the values of a row lie close
	// together (mean 1e4, spread 1e-3), and a constant row gives exact zeros.
	const float shift = group_sum(lid == 0 ? (has_residual ? xr[0] + residual[base] : xr[0]) : 0.0f, scratch);

	// Pass 1: y = x + residual, stored in dst, and the mean of y - shift.
	float sum = 0.0f;
	for (int j = lid; j < cols; j += step) {
		const float y = has_residual ? xr[j] + residual[base + j] : xr[j];
		yr[j] = y;
		sum += y - shift;
	}
	const float mean = group_sum(sum, scratch) / (float)cols;

	// Pass 2: the biased variance from squared deviations.
	float sq = 0.0f;
	for (int j = lid; j < cols; j += step) {
		const float d = (yr[j] - shift) - mean;
		sq += d * d;
	}
	const float var = group_sum(sq, scratch) / (float)cols;
	const float rstd = 1.0f / sqrt(var + eps);

	// Pass 3: normalise, scale and shift.
	for (int j = lid; j < cols; j += step) {
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

// rms_norm (GPUs): for each row r of cols elements, y = x + residual (if
// has_residual), stored into residual_out (if has_residual_out), and dst =
// y / sqrt(mean(y^2) + eps) * weight (weight read only if has_weight), as
// Llama's RMSNorm. One work-group per row, launched as layer_norm. dst and
// residual_out may be x or residual: each work-item handles its own elements,
// and pass 1 stores y into residual_out for pass 2 to read back, so no element
// is read after a store to its aliases. Every work-item runs the same number
// of iterations (j0) and leaves where its element j is past the row: PoCL 3.1
// vectorised the plain strided loop (j = lid; j < cols; j += step) into an
// unmasked scatter that wrote for work-items with no element left when cols <
// the group size, and crashed.
__kernel void rms_norm(__global float *dst, __global const float *x, __global const float *residual,
                       __global float *residual_out, __global const float *weight, const int cols,
                       const float eps, const int has_residual, const int has_residual_out,
                       const int has_weight, __local float *scratch) {
	if (get_group_id(1) != 0 || cols == 0) {
		return;
	}
	const int lid = get_local_id(1);
	const int step = get_local_size(1);
	const size_t base = (size_t)get_global_id(0) * (size_t)cols;
	float sq = 0.0f;
	for (int j0 = 0; j0 < cols; j0 += step) {
		const int j = j0 + lid;
		if (j >= cols) {
			break;
		}
		float y = x[base + j];
		if (has_residual) {
			y += residual[base + j];
		}
		if (has_residual_out) {
			residual_out[base + j] = y;
		}
		sq = fma(y, y, sq);
	}
	const float rstd = 1.0f / sqrt(group_sum(sq, scratch) / (float)cols + eps);
	for (int j0 = 0; j0 < cols; j0 += step) {
		const int j = j0 + lid;
		if (j >= cols) {
			break;
		}
		float y;
		if (has_residual_out) {
			y = residual_out[base + j];
		} else {
			y = x[base + j];
			if (has_residual) {
				y += residual[base + j];
			}
		}
		float v = y * rstd;
		if (has_weight) {
			v *= weight[j];
		}
		dst[base + j] = v;
	}
}
