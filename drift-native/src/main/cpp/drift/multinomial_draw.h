// One token drawn per row of a probability matrix, exactly as torch.multinomial(probs, 1) draws it on the CPU:
// one exponential per entry from the generator (ATen's serial exponential_: two mt19937 outputs, 53 bits, then
// -log1p(-u) in double, rounded to fp32), then the argmax of p / q (first index among equals, NaN first).
//
// ATen makes the exponentials one at a time on one thread: 90 ms per token for [32, 151,936] on this project's
// 2-core machine, a sixth of a decoding step at batch 32. Here only the mt19937 stream is serial; the log1p, the
// division and the argmax run in parallel, fused, and skip the log1p where p is zero (top-p's removed tokens, most of
// a trained model's vocabulary), where p / q is zero whatever q is, unless q is zero too (then NaN, as in ATen).
#pragma once

#include <ATen/ATen.h>

namespace drift {

// probs: [N, V] fp32, contiguous, on the CPU (rows need not sum to one). generator: a CPU generator, advanced by
// exactly the 2 N V outputs ATen's exponential_ takes. next: [N, 1] int64, written with the chosen columns.
// A row holding NaN, inf or a negative entry is an error, as torch.multinomial makes it (then the generator has
// advanced past that row).
void multinomial_draw(const at::Tensor& probs, const at::Generator& generator, const at::Tensor& next);

}  // namespace drift
