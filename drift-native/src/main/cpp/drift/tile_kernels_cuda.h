// The log-prob op's per-tile passes on the GPU, one kernel each (tile_kernels.h has the CPU ones).
//
// As ATen ops, a tile cost several kernels: logsumexp (amax, sub, exp, sum, log, add) and logaddexp in the forward;
// sub_, exp_, mul_ and a copy to bf16 in the backward, each a pass over a 64 MiB fp32 tile. On an H200 the op took
// 20.8 ms for bf16 forward + backward at N=8, T=512, V=151,936, D=896, 1.63x the unfused composition (12.7 ms).
// Here each tile is read once per pass and the backward writes the GEMM's bf16 operand directly.
#pragma once

#include <ATen/core/Tensor.h>

namespace drift {

#ifdef DRIFT_WITH_CUDA
// lse[r] = log sum_c exp(tile[r, c]) when first, else log(exp(lse[r]) + sum_c exp(tile[r, c])): the tile's
// log-sum-exp folded into the running one. tile: contiguous fp32 [rows, cols] on CUDA; lse: contiguous fp32 [rows].
void cuda_tile_logsumexp(const at::Tensor& tile, const at::Tensor& lse, bool first);

// out[r, c] = scale[r] * (exp(tile[r, c] - lse[r]) - [v0 + c == targets[r]]): softmax rows minus the one-hot of
// each row's target when it falls in this tile (columns v0..), scaled, rounded to out's dtype (fp32, bf16 or fp16;
// out may be tile itself when fp32). All contiguous, on one CUDA device; lse and scale are fp32 [rows], targets
// int64 [rows].
void cuda_tile_scaled_softmax(const at::Tensor& tile, const at::Tensor& lse, const at::Tensor& scale,
                              const at::Tensor& targets, int64_t v0, const at::Tensor& out);
#endif

}  // namespace drift
