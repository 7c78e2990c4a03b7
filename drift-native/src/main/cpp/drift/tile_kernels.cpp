// Chooses the tile kernels' instruction set once, from the CPU's features (see tile_kernels.h).
#include "tile_kernels.h"

#include <atomic>
#include <cstring>

namespace drift {

namespace AVX512 {
void tile_logsumexp(const float*, int64_t, int64_t, float*);
void tile_scaled_softmax(float*, int64_t, int64_t, const float*, const float*);
void tile_round_bf16(const float*, int64_t, int64_t, int64_t, c10::BFloat16*, int64_t, int64_t);
}  // namespace AVX512
namespace AVX2 {
void tile_logsumexp(const float*, int64_t, int64_t, float*);
void tile_scaled_softmax(float*, int64_t, int64_t, const float*, const float*);
void tile_round_bf16(const float*, int64_t, int64_t, int64_t, c10::BFloat16*, int64_t, int64_t);
}  // namespace AVX2
namespace DEFAULT {
void tile_logsumexp(const float*, int64_t, int64_t, float*);
void tile_scaled_softmax(float*, int64_t, int64_t, const float*, const float*);
void tile_round_bf16(const float*, int64_t, int64_t, int64_t, c10::BFloat16*, int64_t, int64_t);
}  // namespace DEFAULT

namespace {

enum class Isa { AVX512, AVX2, DEFAULT };

Isa detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq")) {
    return Isa::AVX512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::AVX2;
  return Isa::DEFAULT;
}

bool supported(Isa isa) {
  const Isa best = detect();
  return isa == Isa::DEFAULT || isa == best || (isa == Isa::AVX2 && best == Isa::AVX512);
}

std::atomic<int>& chosen() {
  static std::atomic<int> value{static_cast<int>(detect())};
  return value;
}

Isa isa() { return static_cast<Isa>(chosen().load(std::memory_order_relaxed)); }

}  // namespace

void tile_logsumexp(const float* tile, int64_t rows, int64_t cols, float* out) {
  switch (isa()) {
    case Isa::AVX512: return AVX512::tile_logsumexp(tile, rows, cols, out);
    case Isa::AVX2: return AVX2::tile_logsumexp(tile, rows, cols, out);
    case Isa::DEFAULT: return DEFAULT::tile_logsumexp(tile, rows, cols, out);
  }
}

void tile_scaled_softmax(float* tile, int64_t rows, int64_t cols, const float* lse, const float* scale) {
  switch (isa()) {
    case Isa::AVX512: return AVX512::tile_scaled_softmax(tile, rows, cols, lse, scale);
    case Isa::AVX2: return AVX2::tile_scaled_softmax(tile, rows, cols, lse, scale);
    case Isa::DEFAULT: return DEFAULT::tile_scaled_softmax(tile, rows, cols, lse, scale);
  }
}

void tile_round_bf16(const float* src, int64_t ld_src, int64_t rows, int64_t cols, c10::BFloat16* dst,
                     int64_t ld_dst, int64_t width) {
  switch (isa()) {
    case Isa::AVX512: return AVX512::tile_round_bf16(src, ld_src, rows, cols, dst, ld_dst, width);
    case Isa::AVX2: return AVX2::tile_round_bf16(src, ld_src, rows, cols, dst, ld_dst, width);
    case Isa::DEFAULT: return DEFAULT::tile_round_bf16(src, ld_src, rows, cols, dst, ld_dst, width);
  }
}

bool set_tile_kernels_isa(const char* name) {
  Isa wanted;
  if (std::strcmp(name, "AVX512") == 0) {
    wanted = Isa::AVX512;
  } else if (std::strcmp(name, "AVX2") == 0) {
    wanted = Isa::AVX2;
  } else if (std::strcmp(name, "DEFAULT") == 0) {
    wanted = Isa::DEFAULT;
  } else {
    return false;
  }
  if (!supported(wanted)) return false;
  chosen().store(static_cast<int>(wanted), std::memory_order_relaxed);
  return true;
}

const char* tile_kernels_isa() {
  switch (isa()) {
    case Isa::AVX512: return "AVX512";
    case Isa::AVX2: return "AVX2";
    case Isa::DEFAULT: return "DEFAULT";
  }
  return "DEFAULT";
}

}  // namespace drift
