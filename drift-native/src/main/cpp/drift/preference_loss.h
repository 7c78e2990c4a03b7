// Fused preference loss over summed sequence log-probs (DPO and its variants), with a closed-form backward.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "preference_loss_math.h"

namespace drift {

// policy_chosen, policy_rejected, reference_chosen, reference_rejected: [B] summed log-probs, fp32 / bf16 / fp16 /
// fp64, one device. Returns {loss [B], chosen_rewards [B], rejected_rewards [B]} in fp32 (fp64 for fp64 inputs);
// only loss carries a gradient, which flows to every input that requires one.
std::vector<at::Tensor> preference_loss(const at::Tensor& policy_chosen, const at::Tensor& policy_rejected,
                                        const at::Tensor& reference_chosen, const at::Tensor& reference_rejected,
                                        double beta, PreferenceLossType type, double label_smoothing);

// The forward kernel on contiguous accumulation-dtype inputs: fills loss, both rewards and dL/dz in one pass.
void preference_loss_forward_cpu(const at::Tensor& pc, const at::Tensor& pr, const at::Tensor& rc,
                                 const at::Tensor& rr, double beta, PreferenceLossType type, double eps,
                                 at::Tensor& loss, at::Tensor& chosen_rewards, at::Tensor& rejected_rewards,
                                 at::Tensor& dloss_dz);

// The same for tensors on any other device, as ATen ops (no host reads). exp and log1p are ATen's, which may differ
// from the loop's libm in the last bit.
void preference_loss_forward_aten(const at::Tensor& pc, const at::Tensor& pr, const at::Tensor& rc,
                                  const at::Tensor& rr, double beta, PreferenceLossType type, double eps,
                                  at::Tensor& loss, at::Tensor& chosen_rewards, at::Tensor& rejected_rewards,
                                  at::Tensor& dloss_dz);

#ifdef DRIFT_WITH_CUDA
void preference_loss_forward_cuda(const at::Tensor& pc, const at::Tensor& pr, const at::Tensor& rc,
                                  const at::Tensor& rr, double beta, PreferenceLossType type, double eps,
                                  at::Tensor& loss, at::Tensor& chosen_rewards, at::Tensor& rejected_rewards,
                                  at::Tensor& dloss_dz);
#endif

}  // namespace drift
