// The tile kernels, written once against ATen's Vectorized<float>; included by tile_kernels_{avx512,avx2,default}.cpp,
// each compiled with CPU_CAPABILITY set, which also names the namespace the functions land in.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace drift {
namespace CPU_CAPABILITY {

using Vec = at::vec::Vectorized<float>;

// Two sweeps of one row (max, then sum of exp) that stay in cache: a 4096-float row is 16 KiB.
inline float row_logsumexp(const float* x, int64_t n) {
  const int64_t vn = n - n % Vec::size();
  float m = -std::numeric_limits<float>::infinity();
  if (vn > 0) {
    Vec vm = Vec::loadu(x);
    for (int64_t c = Vec::size(); c < vn; c += Vec::size()) vm = at::vec::maximum(vm, Vec::loadu(x + c));
    m = at::vec::vec_reduce_all<float>([](Vec& a, Vec& b) { return at::vec::maximum(a, b); }, vm);
  }
  for (int64_t c = vn; c < n; ++c) m = std::max(m, x[c]);
  if (!std::isfinite(m)) return m;  // all -inf gives -inf; +inf or NaN propagate
  const Vec vmax(m);
  Vec vs(0.0f);
  for (int64_t c = 0; c < vn; c += Vec::size()) vs = vs + (Vec::loadu(x + c) - vmax).exp();
  float s = at::vec::vec_reduce_all<float>([](Vec& a, Vec& b) { return a + b; }, vs);
  for (int64_t c = vn; c < n; ++c) s += std::exp(x[c] - m);
  return m + std::log(s);
}

void tile_logsumexp(const float* tile, int64_t rows, int64_t cols, float* out) {
  at::parallel_for(0, rows, 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) out[r] = row_logsumexp(tile + r * cols, cols);
  });
}

void tile_scaled_softmax(float* tile, int64_t rows, int64_t cols, const float* lse, const float* scale) {
  const int64_t vn = cols - cols % Vec::size();
  at::parallel_for(0, rows, 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* x = tile + r * cols;
      const Vec vl(lse[r]), vs(scale[r]);
      for (int64_t c = 0; c < vn; c += Vec::size()) ((Vec::loadu(x + c) - vl).exp() * vs).store(x + c);
      for (int64_t c = vn; c < cols; ++c) x[c] = scale[r] * std::exp(x[c] - lse[r]);
    }
  });
}

void tile_round_bf16(const float* src, int64_t ld_src, int64_t rows, int64_t cols, c10::BFloat16* dst,
                     int64_t ld_dst, int64_t width) {
  using BVec = at::vec::Vectorized<c10::BFloat16>;
  const int64_t step = BVec::size(), vn = cols - cols % step;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = src + r * ld_src;
    c10::BFloat16* y = dst + r * ld_dst;
    for (int64_t c = 0; c < vn; c += step) {
      at::vec::convert_from_float<c10::BFloat16>(Vec::loadu(x + c), Vec::loadu(x + c + Vec::size())).store(y + c);
    }
    for (int64_t c = vn; c < cols; ++c) y[c] = c10::BFloat16(x[c]);
    std::fill(y + cols, y + width, c10::BFloat16(0.0f));
  }
}

}  // namespace CPU_CAPABILITY
}  // namespace drift
