// Per-sequence summed log-probs of target tokens, straight from final hidden states and the lm-head weight,
// without ever materialising the [N, T, V] logits.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace drift {

// hidden [N, T, D] (fp32 / bf16 / fp16 / fp64), weight [V, D] (same dtype), targets [N, T] integer ids,
// mask [N, T] (bool or numeric; non-zero marks a scored position). hidden[n, t] predicts targets[n, t]: the caller
// shifts ids left by one, as a causal LM's labels are. Positions where mask is zero are ignored whatever their
// target (HF's -100 is fine there).
// Returns {logps [N] (fp32, fp64 for fp64 inputs), token_counts [N] int64}; logps is differentiable with respect to
// hidden and weight. Work is tiled in blocks of row_block scored tokens x vocab_block vocabulary entries, so the
// largest temporary is row_block * vocab_block accumulation-dtype values.
std::vector<at::Tensor> sequence_logps(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                                       const at::Tensor& mask, int64_t row_block, int64_t vocab_block);

// As above, with the scored positions given: `scored` [M] lists the flat positions n * T + t where mask is set, in
// increasing order (checked against the mask on the CPU). Off the CPU the op then never waits for the device:
// deriving them takes a nonzero(), whose count must come back to the host.
std::vector<at::Tensor> sequence_logps(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                                       const at::Tensor& mask, const at::Tensor& scored, int64_t row_block,
                                       int64_t vocab_block);

// As above, and the log-sum-exp of each scored row's logits, lse [M] (not differentiable): what
// sequence_logps_weight_grad needs besides the inputs.
std::vector<at::Tensor> sequence_logps_and_lse(const at::Tensor& hidden, const at::Tensor& weight,
                                               const at::Tensor& targets, const at::Tensor& mask,
                                               const at::Tensor& scored, int64_t row_block, int64_t vocab_block);

// Rows [v_begin, v_begin + rows) of the weight's gradient that the backward of sequence_logps with these arguments
// computes for grad_logps [N] = dL/dlogps, bit for bit, in the weight's dtype: for a caller that updates a [V, D]
// lm-head a range at a time instead of holding its whole gradient (pass a detached weight to the forward, so that
// its backward computes dL/dhidden alone). lse is the third output of sequence_logps_and_lse. The range starts on a
// vocabulary tile, and ends on one or at V.
at::Tensor sequence_logps_weight_grad(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                                      const at::Tensor& mask, const at::Tensor& scored, const at::Tensor& lse,
                                      const at::Tensor& grad_logps, int64_t row_block, int64_t vocab_block,
                                      int64_t v_begin, int64_t rows);

}  // namespace drift
