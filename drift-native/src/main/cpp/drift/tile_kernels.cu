// CUDA kernels for the log-prob op's tile passes (tile_kernels_cuda.h). One block per row of the tile: a row of a
// 4096-column tile is 16 KiB, read as float4 by 256 threads, so every pass is a single coalesced sweep.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "tile_kernels_cuda.h"

namespace drift {

namespace {

constexpr int kThreads = 256;

// exp(x - m), and 0 where both are -inf (an empty running sum), never NaN.
__device__ __forceinline__ float exp_from(float x, float m) { return x == -INFINITY ? 0.0f : expf(x - m); }

// Folds the partial sum (m2, s2) = sum exp(x - m2) into (m, s).
__device__ __forceinline__ void merge(float& m, float& s, float m2, float s2) {
  const float hi = fmaxf(m, m2);
  if (hi == -INFINITY) return;
  s = s * exp_from(m, hi) + s2 * exp_from(m2, hi);
  m = hi;
}

__device__ __forceinline__ void absorb4(float& m, float& s, float4 x) {
  const float hi = fmaxf(fmaxf(x.x, x.y), fmaxf(x.z, x.w));
  merge(m, s, hi, exp_from(x.x, hi) + exp_from(x.y, hi) + exp_from(x.z, hi) + exp_from(x.w, hi));
}

// The block's (m, s) in thread 0: a shuffle within each warp, then one warp over the warps' results.
__device__ void block_merge(float& m, float& s) {
  __shared__ float ms[kThreads / 32], ss[kThreads / 32];
  for (int offset = 16; offset > 0; offset >>= 1) {
    merge(m, s, __shfl_down_sync(0xffffffffu, m, offset), __shfl_down_sync(0xffffffffu, s, offset));
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    ms[warp] = m;
    ss[warp] = s;
  }
  __syncthreads();
  if (warp == 0) {
    m = lane < kThreads / 32 ? ms[lane] : -INFINITY;
    s = lane < kThreads / 32 ? ss[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) {
      merge(m, s, __shfl_down_sync(0xffffffffu, m, offset), __shfl_down_sync(0xffffffffu, s, offset));
    }
  }
}

__global__ void logsumexp_kernel(const float* __restrict__ tile, int64_t cols, bool vec4, float* __restrict__ lse,
                                 bool first) {
  const float* x = tile + static_cast<int64_t>(blockIdx.x) * cols;
  float m = -INFINITY, s = 0.0f;
  if (vec4) {
    const float4* x4 = reinterpret_cast<const float4*>(x);
    for (int64_t j = threadIdx.x; j < cols / 4; j += kThreads) absorb4(m, s, x4[j]);
  } else {
    for (int64_t j = threadIdx.x; j < cols; j += kThreads) merge(m, s, x[j], 1.0f);
  }
  block_merge(m, s);
  if (threadIdx.x == 0) {
    const float tile_lse = m == -INFINITY ? -INFINITY : m + logf(s);
    float& out = lse[blockIdx.x];
    if (first) {
      out = tile_lse;
    } else {
      // log-add-exp of the running value and this tile's.
      const float hi = fmaxf(out, tile_lse), lo = fminf(out, tile_lse);
      out = hi == -INFINITY ? -INFINITY : hi + log1pf(expf(lo - hi));
    }
  }
}

template <typename Out>
__device__ __forceinline__ Out narrow_to(float x);
template <>
__device__ __forceinline__ float narrow_to<float>(float x) { return x; }
template <>
__device__ __forceinline__ __nv_bfloat16 narrow_to<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <>
__device__ __forceinline__ __half narrow_to<__half>(float x) { return __float2half_rn(x); }

template <typename Out>
struct alignas(4 * sizeof(Out)) Out4 {
  Out v[4];
};

// tile and out may be one buffer (fp32, in place): no __restrict__; each element is read before its thread writes it.
// c * p, less c at the target's column: the rounding of the CPU path, which subtracts after scaling.
__device__ __forceinline__ float grad_entry(float x, float l, float c, bool target) {
  const float v = expf(x - l) * c;
  return target ? v - c : v;
}

template <typename Out>
__global__ void scaled_softmax_kernel(const float* tile, int64_t cols, bool vec4, const float* __restrict__ lse,
                                      const float* __restrict__ scale, const int64_t* __restrict__ targets,
                                      int64_t v0, Out* out) {
  const int64_t row = blockIdx.x;
  const float l = lse[row], c = scale[row];
  const int64_t t = targets[row] - v0;  // outside [0, cols) when the target is in another tile
  const float* x = tile + row * cols;
  Out* y = out + row * cols;
  if (vec4) {
    const float4* x4 = reinterpret_cast<const float4*>(x);
    Out4<Out>* y4 = reinterpret_cast<Out4<Out>*>(y);
    for (int64_t j = threadIdx.x; j < cols / 4; j += kThreads) {
      const float4 v = x4[j];
      const int64_t j0 = 4 * j;
      Out4<Out> r;
      r.v[0] = narrow_to<Out>(grad_entry(v.x, l, c, j0 == t));
      r.v[1] = narrow_to<Out>(grad_entry(v.y, l, c, j0 + 1 == t));
      r.v[2] = narrow_to<Out>(grad_entry(v.z, l, c, j0 + 2 == t));
      r.v[3] = narrow_to<Out>(grad_entry(v.w, l, c, j0 + 3 == t));
      y4[j] = r;
    }
  } else {
    for (int64_t j = threadIdx.x; j < cols; j += kThreads) y[j] = narrow_to<Out>(grad_entry(x[j], l, c, j == t));
  }
}

void check_tile(const at::Tensor& tile, const char* what) {
  TORCH_CHECK(tile.is_cuda() && tile.scalar_type() == at::kFloat && tile.dim() == 2 && tile.is_contiguous(),
              what, ": the tile must be a contiguous fp32 CUDA matrix, got ", tile.scalar_type(), " ", tile.sizes(),
              " on ", tile.device());
}

void check_row_vector(const at::Tensor& t, const at::Tensor& tile, const char* what, const char* name) {
  TORCH_CHECK(t.device() == tile.device() && t.scalar_type() == at::kFloat && t.is_contiguous() &&
                  t.numel() == tile.size(0),
              what, ": ", name, " must be a contiguous fp32 vector of ", tile.size(0), " rows on ", tile.device());
}

// float4 access needs 16-byte rows; the tiles come from one aligned buffer with cols a multiple of 4 in practice.
bool vectorizable(const at::Tensor& tile, const at::Tensor& out) {
  const auto aligned = [](const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; };
  return tile.size(1) % 4 == 0 && aligned(tile.const_data_ptr(), 16) &&
         aligned(out.const_data_ptr(), 4 * out.element_size());
}

}  // namespace

void cuda_tile_logsumexp(const at::Tensor& tile, const at::Tensor& lse, bool first) {
  check_tile(tile, "cuda_tile_logsumexp");
  check_row_vector(lse, tile, "cuda_tile_logsumexp", "lse");
  if (tile.numel() == 0) return;
  const c10::cuda::CUDAGuard guard(tile.device());
  logsumexp_kernel<<<static_cast<unsigned>(tile.size(0)), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
      tile.const_data_ptr<float>(), tile.size(1), vectorizable(tile, tile), lse.mutable_data_ptr<float>(), first);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void cuda_tile_scaled_softmax(const at::Tensor& tile, const at::Tensor& lse, const at::Tensor& scale,
                              const at::Tensor& targets, int64_t v0, const at::Tensor& out) {
  check_tile(tile, "cuda_tile_scaled_softmax");
  check_row_vector(lse, tile, "cuda_tile_scaled_softmax", "lse");
  check_row_vector(scale, tile, "cuda_tile_scaled_softmax", "scale");
  TORCH_CHECK(targets.device() == tile.device() && targets.scalar_type() == at::kLong && targets.is_contiguous() &&
                  targets.numel() == tile.size(0),
              "cuda_tile_scaled_softmax: targets must be a contiguous int64 vector of ", tile.size(0), " rows on ",
              tile.device());
  TORCH_CHECK(out.device() == tile.device() && out.sizes() == tile.sizes() && out.is_contiguous(),
              "cuda_tile_scaled_softmax: out must be contiguous ", tile.sizes(), " on ", tile.device(), ", got ",
              out.sizes(), " on ", out.device());
  if (tile.numel() == 0) return;
  const c10::cuda::CUDAGuard guard(tile.device());
  const unsigned rows = static_cast<unsigned>(tile.size(0));
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int64_t cols = tile.size(1);
  const bool vec4 = vectorizable(tile, out);
  const float* x = tile.const_data_ptr<float>();
  const float* l = lse.const_data_ptr<float>();
  const float* c = scale.const_data_ptr<float>();
  const int64_t* t = targets.const_data_ptr<int64_t>();
  switch (out.scalar_type()) {
    case at::kFloat:
      scaled_softmax_kernel<float><<<rows, kThreads, 0, stream>>>(x, cols, vec4, l, c, t, v0,
                                                                  out.mutable_data_ptr<float>());
      break;
    case at::kBFloat16:
      scaled_softmax_kernel<__nv_bfloat16><<<rows, kThreads, 0, stream>>>(
          x, cols, vec4, l, c, t, v0, reinterpret_cast<__nv_bfloat16*>(out.mutable_data_ptr<at::BFloat16>()));
      break;
    case at::kHalf:
      scaled_softmax_kernel<__half><<<rows, kThreads, 0, stream>>>(
          x, cols, vec4, l, c, t, v0, reinterpret_cast<__half*>(out.mutable_data_ptr<at::Half>()));
      break;
    default:
      TORCH_CHECK(false, "cuda_tile_scaled_softmax: out must be Float, BFloat16 or Half, got ", out.scalar_type());
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace drift
