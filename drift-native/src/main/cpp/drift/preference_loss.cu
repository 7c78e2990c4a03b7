// CUDA forward of the fused preference loss: one thread per pair, the same per-pair math as the CPU loop
// (preference_loss_math.h), so both devices compute identical formulas. Backward is the elementwise product in
// preference_loss.cpp, which runs on any device.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "preference_loss.h"

namespace drift {

namespace {

template <typename scalar_t>
__global__ void preference_loss_forward_kernel(const scalar_t* __restrict__ pc, const scalar_t* __restrict__ pr,
                                               const scalar_t* __restrict__ rc, const scalar_t* __restrict__ rr,
                                               int64_t n, scalar_t beta, scalar_t eps, PreferenceLossType type,
                                               scalar_t* __restrict__ loss, scalar_t* __restrict__ chosen,
                                               scalar_t* __restrict__ rejected, scalar_t* __restrict__ dloss_dz) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const scalar_t chosen_ratio = pc[i] - rc[i];
  const scalar_t rejected_ratio = pr[i] - rr[i];
  chosen[i] = beta * chosen_ratio;
  rejected[i] = beta * rejected_ratio;
  preference_loss_pair<scalar_t>(chosen_ratio - rejected_ratio, beta, eps, type, &loss[i], &dloss_dz[i]);
}

}  // namespace

void preference_loss_forward_cuda(const at::Tensor& pc, const at::Tensor& pr, const at::Tensor& rc,
                                  const at::Tensor& rr, double beta, PreferenceLossType type, double eps,
                                  at::Tensor& loss, at::Tensor& chosen_rewards, at::Tensor& rejected_rewards,
                                  at::Tensor& dloss_dz) {
  const c10::cuda::CUDAGuard guard(pc.device());
  const int64_t n = pc.numel();
  if (n == 0) return;
  constexpr int threads = 256;
  const int blocks = static_cast<int>((n + threads - 1) / threads);
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "preference_loss_forward_cuda", [&] {
    preference_loss_forward_kernel<scalar_t><<<blocks, threads, 0, stream>>>(
        pc.const_data_ptr<scalar_t>(), pr.const_data_ptr<scalar_t>(), rc.const_data_ptr<scalar_t>(),
        rr.const_data_ptr<scalar_t>(), n, static_cast<scalar_t>(beta), static_cast<scalar_t>(eps), type,
        loss.mutable_data_ptr<scalar_t>(), chosen_rewards.mutable_data_ptr<scalar_t>(),
        rejected_rewards.mutable_data_ptr<scalar_t>(), dloss_dz.mutable_data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace drift
