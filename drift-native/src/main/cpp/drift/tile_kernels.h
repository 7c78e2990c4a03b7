// Row-wise passes over one fp32 logits tile of the sequence log-prob op, one memory pass each, vectorized.
//
// They replace ATen compositions that each cost several passes over a 64 MiB tile plus a temporary of the same
// size (at::logsumexp; sub_ + exp_ + mul_). Built three times (AVX-512, AVX2, scalar: tile_kernels_*.cpp), the
// build chosen by vector_isa.h; exp is Sleef's (1 ULP), exported by libtorch_cpu.
#pragma once

#include <c10/util/BFloat16.h>

#include <cstdint>

namespace drift {

// out[r] = log sum_c exp(tile[r, c]) for a contiguous [rows, cols] tile. Rows are independent and run in parallel.
void tile_logsumexp(const float* tile, int64_t rows, int64_t cols, float* out);

// In place: tile[r, c] = scale[r] * exp(tile[r, c] - lse[r]), i.e. softmax rows scaled by scale.
void tile_scaled_softmax(float* tile, int64_t rows, int64_t cols, const float* lse, const float* scale);

// dst[r, c] = bf16(src[r, c]) (round to nearest even, as c10::BFloat16) for c < cols, 0 for cols <= c < width;
// rows of src and dst with strides ld_src and ld_dst. One thread: callers split rows over their own loops. The
// scalar conversion was 5% of a bf16 DPO step (the log-prob tiles' gradient rounded for brgemm).
void tile_round_bf16(const float* src, int64_t ld_src, int64_t rows, int64_t cols, c10::BFloat16* dst,
                     int64_t ld_dst, int64_t width);

}  // namespace drift
