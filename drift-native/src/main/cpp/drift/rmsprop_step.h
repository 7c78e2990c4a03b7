// One RMSprop update of a weight over its fp32 master, in a single pass over memory (torch.optim.RMSprop without
// momentum or centering, as DRIFT's recipe runs it):
//
//   g = scale * grad + weight_decay * m          (scale: gradient clipping; the gradient widened to fp32)
//   v = alpha * v + (1 - alpha) * g * g
//   m = m - lr * g / (sqrt(v) + eps)
//   w = m                                        (rounded to nearest-even when w is bf16; w is m itself in fp32)
//
// The same update as ATen ops costs about nine passes (widen, scale, two for v, sqrt, + eps, addcdiv, copy back)
// and ~72 bytes of memory traffic per parameter; this one reads grad, m, v and writes m, v, w: 18-20 bytes. On
// Qwen2.5-0.5B's 494M parameters that is the difference between ~35 GB and ~10 GB per step on a memory-bound CPU.
#pragma once

#include <ATen/ATen.h>

namespace drift {

// weight: fp32 or bf16; grad: weight's dtype; master, square_avg: fp32 (master may be weight itself when fp32).
// With a bf16 weight the master may instead be int16: the residual of a split master (split_master.h), whose
// update joins, updates and splits each element in the same pass.
// All contiguous with weight's number of elements, on one device: the CPU, CUDA in a build with its kernels
// (rmsprop_step.cu), or any other device through ATen ops. All three round every operation alike, so they agree bit
// for bit.
void rmsprop_step(const at::Tensor& weight, const at::Tensor& grad, const at::Tensor& master,
                  const at::Tensor& square_avg, double lr, double scale, double alpha, double eps,
                  double weight_decay);

#ifdef DRIFT_WITH_CUDA
// The kernel behind rmsprop_step for CUDA tensors (rmsprop_step.cu); inputs already checked.
void rmsprop_step_cuda(const at::Tensor& weight, const at::Tensor& grad, const at::Tensor& master,
                       const at::Tensor& square_avg, double lr, double scale, double alpha, double eps,
                       double weight_decay);
#endif

}  // namespace drift
