// The RMSprop loops (rmsprop_kernels.h), written once as plain per-element code for the compiler to vectorise with
// the instruction set of the file that includes this one (rmsprop_kernels_{avx512,avx2,default}.cpp, whose
// CPU_CAPABILITY names the namespace). Plain code rather than intrinsics: the same source is the scalar build, so the
// builds can differ only where the hardware's rounding would, and IEEE sqrt, division, products and sums round
// alike in every width.
#pragma once

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>

#include <bit>
#include <cmath>
#include <cstdint>

#include "rmsprop_kernels.h"
#include "split_master.h"

namespace drift {
namespace CPU_CAPABILITY {

namespace {

constexpr int64_t kGrain = 1 << 16;

// g = scale * grad + wd * m;  v = alpha * v + (1 - alpha) * g * g;  returns m - lr * g / (sqrt(v) + eps).
// Scaling and decay are compiled in or out (the Scaled, Decayed variants below) rather than tested per element, which
// keeps the loop free of branches for the vectoriser (with them, GCC 12 vectorised only the AVX-512 build), and
// leaves g's bits as they are when scale is 1 or decay 0 (-0 + 0 would be +0).
template <bool Scaled, bool Decayed>
inline float step(float m, float g, float& v, const RmspropArgs& a) {
  if constexpr (Scaled) g = g * a.scale;
  if constexpr (Decayed) g = g + a.weight_decay * m;
  const float vi = v * a.alpha + (1.0f - a.alpha) * (g * g);
  v = vi;
  return m + (-a.lr) * (g / (std::sqrt(vi) + a.eps));
}

// c10::BFloat16's round-to-nearest-even, NaN to the canonical quiet NaN, without its branch on std::isnan.
inline uint16_t bf16_bits(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint32_t rounded = (u + (((u >> 16) & 1u) + 0x7FFFu)) >> 16;
  return (u & 0x7FFFFFFFu) > 0x7F800000u ? static_cast<uint16_t>(0x7FC0u) : static_cast<uint16_t>(rounded);
}

inline float widen(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

template <bool Scaled, bool Decayed>
void fp32_range(float* __restrict m, const float* __restrict grad, float* __restrict v, int64_t begin, int64_t end,
                const RmspropArgs& a) {
  for (int64_t i = begin; i < end; i++) m[i] = step<Scaled, Decayed>(m[i], grad[i], v[i], a);
}

template <bool Scaled, bool Decayed>
void bf16_range(uint16_t* __restrict w, const uint16_t* __restrict grad, float* __restrict m, float* __restrict v,
                int64_t begin, int64_t end, const RmspropArgs& a) {
  for (int64_t i = begin; i < end; i++) {
    const float mi = step<Scaled, Decayed>(m[i], widen(grad[i]), v[i], a);
    m[i] = mi;
    w[i] = bf16_bits(mi);
  }
}

template <bool Scaled, bool Decayed>
void split_range(uint16_t* __restrict w, const uint16_t* __restrict grad, int16_t* __restrict r,
                 float* __restrict v, int64_t begin, int64_t end, const RmspropArgs& a) {
  for (int64_t i = begin; i < end; i++) {
    const float m = std::bit_cast<float>(join_master_bits(w[i], r[i]));
    const SplitBits s = split_master_bits(std::bit_cast<uint32_t>(step<Scaled, Decayed>(m, widen(grad[i]), v[i], a)));
    w[i] = s.weight;
    r[i] = s.residual;
  }
}

// Calls range.template operator()<Scaled, Decayed>() with the variant the arguments call for.
template <typename Range>
void variant(const RmspropArgs& a, Range&& range) {
  const bool scaled = a.scale != 1.0f, decayed = a.weight_decay != 0.0f;
  if (scaled && decayed) {
    range.template operator()<true, true>();
  } else if (scaled) {
    range.template operator()<true, false>();
  } else if (decayed) {
    range.template operator()<false, true>();
  } else {
    range.template operator()<false, false>();
  }
}

}  // namespace

void rmsprop_fp32(float* m, const float* grad, float* v, int64_t n, const RmspropArgs& a) {
  variant(a, [&]<bool S, bool D>() {
    at::parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) { fp32_range<S, D>(m, grad, v, b, e, a); });
  });
}

void rmsprop_bf16(c10::BFloat16* w, const c10::BFloat16* grad, float* m, float* v, int64_t n, const RmspropArgs& a) {
  auto* wb = reinterpret_cast<uint16_t*>(w);
  const auto* gb = reinterpret_cast<const uint16_t*>(grad);
  variant(a, [&]<bool S, bool D>() {
    at::parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) { bf16_range<S, D>(wb, gb, m, v, b, e, a); });
  });
}

void rmsprop_split(uint16_t* w, const c10::BFloat16* grad, int16_t* r, float* v, int64_t n, const RmspropArgs& a) {
  const auto* gb = reinterpret_cast<const uint16_t*>(grad);
  variant(a, [&]<bool S, bool D>() {
    at::parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) { split_range<S, D>(w, gb, r, v, b, e, a); });
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace drift
