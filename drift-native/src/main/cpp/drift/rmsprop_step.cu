// The RMSprop update of rmsprop_step.h on the GPU, one thread per element. Each operation is rounded as written
// (__fmul_rn and friends keep nvcc from contracting a * b + c into an FMA), so an update on CUDA equals the CPU
// loop's bit for bit: a run moved between devices keeps its optimizer state exactly.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_bf16.h>

#include <algorithm>

#include "rmsprop_step.h"
#include "split_master.h"

namespace drift {

namespace {

template <typename W>
__device__ __forceinline__ float widen(W x);
template <>
__device__ __forceinline__ float widen<float>(float x) { return x; }
template <>
__device__ __forceinline__ float widen<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename W>
__global__ void rmsprop_kernel(W* __restrict__ w, const W* __restrict__ grad, float* __restrict__ m,
                               float* __restrict__ v, int64_t n, float lr, float scale, float alpha, float eps,
                               float wd) {
  const float one_minus_alpha = __fsub_rn(1.0f, alpha), neg_lr = -lr;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float g = widen<W>(grad[i]);
    if (scale != 1.0f) g = __fmul_rn(g, scale);
    const float mi0 = m[i];
    if (wd != 0.0f) g = __fadd_rn(g, __fmul_rn(wd, mi0));
    const float vi = __fadd_rn(__fmul_rn(v[i], alpha), __fmul_rn(one_minus_alpha, __fmul_rn(g, g)));
    v[i] = vi;
    const float mi = __fadd_rn(mi0, __fmul_rn(neg_lr, __fdiv_rn(g, __fadd_rn(__fsqrt_rn(vi), eps))));
    m[i] = mi;
    if constexpr (!std::is_same_v<W, float>) w[i] = __float2bfloat16_rn(mi);
  }
}

// The update over a split master (split_master.h), rounded as rmsprop_kernel rounds it.
__global__ void rmsprop_split_kernel(uint16_t* __restrict__ w, const __nv_bfloat16* __restrict__ grad,
                                     int16_t* __restrict__ r, float* __restrict__ v, int64_t n, float lr, float scale,
                                     float alpha, float eps, float wd) {
  const float one_minus_alpha = __fsub_rn(1.0f, alpha), neg_lr = -lr;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float g = __bfloat162float(grad[i]);
    if (scale != 1.0f) g = __fmul_rn(g, scale);
    const float mi0 = __uint_as_float(join_master_bits(w[i], r[i]));
    if (wd != 0.0f) g = __fadd_rn(g, __fmul_rn(wd, mi0));
    const float vi = __fadd_rn(__fmul_rn(v[i], alpha), __fmul_rn(one_minus_alpha, __fmul_rn(g, g)));
    v[i] = vi;
    const float mi = __fadd_rn(mi0, __fmul_rn(neg_lr, __fdiv_rn(g, __fadd_rn(__fsqrt_rn(vi), eps))));
    const SplitBits s = split_master_bits(__float_as_uint(mi));
    w[i] = s.weight;
    r[i] = s.residual;
  }
}

}  // namespace

void rmsprop_step_cuda(const at::Tensor& weight, const at::Tensor& grad, const at::Tensor& master,
                       const at::Tensor& square_avg, double lr, double scale, double alpha, double eps,
                       double weight_decay) {
  const int64_t n = weight.numel();
  if (n == 0) return;
  const c10::cuda::CUDAGuard guard(weight.device());
  constexpr int threads = 256;
  // Enough blocks to fill the GPU several times over; the grid-stride loop covers the rest.
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((n + threads - 1) / threads, 65536));
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const float f_lr = static_cast<float>(lr), f_scale = static_cast<float>(scale), f_alpha = static_cast<float>(alpha),
              f_eps = static_cast<float>(eps), f_wd = static_cast<float>(weight_decay);
  if (master.scalar_type() == at::kShort) {
    rmsprop_split_kernel<<<blocks, threads, 0, stream>>>(
        reinterpret_cast<uint16_t*>(weight.mutable_data_ptr<at::BFloat16>()),
        reinterpret_cast<const __nv_bfloat16*>(grad.const_data_ptr<at::BFloat16>()), master.mutable_data_ptr<int16_t>(),
        square_avg.mutable_data_ptr<float>(), n, f_lr, f_scale, f_alpha, f_eps, f_wd);
  } else if (weight.scalar_type() == at::kFloat) {
    rmsprop_kernel<float><<<blocks, threads, 0, stream>>>(
        nullptr, grad.const_data_ptr<float>(), master.mutable_data_ptr<float>(), square_avg.mutable_data_ptr<float>(),
        n, f_lr, f_scale, f_alpha, f_eps, f_wd);
  } else {
    rmsprop_kernel<__nv_bfloat16><<<blocks, threads, 0, stream>>>(
        reinterpret_cast<__nv_bfloat16*>(weight.mutable_data_ptr<at::BFloat16>()),
        reinterpret_cast<const __nv_bfloat16*>(grad.const_data_ptr<at::BFloat16>()), master.mutable_data_ptr<float>(),
        square_avg.mutable_data_ptr<float>(), n, f_lr, f_scale, f_alpha, f_eps, f_wd);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace drift
