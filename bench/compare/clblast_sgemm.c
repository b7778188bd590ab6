/* Times CLBlast's SGEMM (C = A B^T as in a Linear layer, row-major, N x N x N) on the first OpenCL device,
   for bench/compare/compare.sh. Prints one JSON line: {"n":N,"median_ms":...,"gflops":...}.
   Build: cc -O2 clblast_sgemm.c -lclblast -lOpenCL */
#define CL_TARGET_OPENCL_VERSION 120
#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv) {
	size_t n = argc > 1 ? (size_t)atoi(argv[1]) : 1024;
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	cl_platform_id platform;
	cl_device_id device;
	cl_int err = clGetPlatformIDs(1, &platform, NULL);
	if (err == CL_SUCCESS) err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL);
	if (err != CL_SUCCESS) { fprintf(stderr, "no OpenCL device (%d)\n", err); return 1; }
	cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
	cl_command_queue queue = clCreateCommandQueue(ctx, device, 0, &err);
	size_t bytes = n * n * sizeof(float);
	float *host = malloc(bytes);
	for (size_t i = 0; i < n * n; i++) host[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
	cl_mem a = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, host, &err);
	cl_mem b = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, host, &err);
	cl_mem c = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
	double times[64];
	if (reps > 64) reps = 64;
	for (int r = -1; r < reps; r++) { /* r = -1: warm-up, compiles CLBlast's kernels */
		double t0 = now_ms();
		CLBlastStatusCode s = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes,
			n, n, n, 1.0f, a, 0, n, b, 0, n, 0.0f, c, 0, n, &queue, NULL);
		if (s != CLBlastSuccess) { fprintf(stderr, "CLBlastSgemm failed: %d\n", s); return 1; }
		clFinish(queue);
		if (r >= 0) times[r] = now_ms() - t0;
	}
	qsort(times, reps, sizeof(double), cmp);
	double med = times[reps / 2];
	printf("{\"n\":%zu,\"median_ms\":%.3f,\"gflops\":%.2f}\n", n, med, 2.0 * n * n * n / med / 1e6);
	return 0;
}
