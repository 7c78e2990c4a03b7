// Chooses the vectorised loops' build once, from the CPU's features (see vector_isa.h).
#include "vector_isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace drift {

namespace {

VectorIsa hardware() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq")) {
    return VectorIsa::AVX512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return VectorIsa::AVX2;
  return VectorIsa::DEFAULT;
}

// The CPU's best, capped as ATen caps its own kernels by ATEN_CPU_CAPABILITY (default, avx2, avx512): one switch
// stands a machine in for a smaller CPU on both sides of a benchmark.
VectorIsa detect() {
  const VectorIsa best = hardware();
  const char* cap = std::getenv("ATEN_CPU_CAPABILITY");
  if (cap == nullptr) return best;
  if (std::strcmp(cap, "default") == 0) return VectorIsa::DEFAULT;
  if (std::strcmp(cap, "avx2") == 0 && best == VectorIsa::AVX512) return VectorIsa::AVX2;
  return best;
}

bool supported(VectorIsa isa) {
  const VectorIsa best = hardware();
  return isa == VectorIsa::DEFAULT || isa == best || (isa == VectorIsa::AVX2 && best == VectorIsa::AVX512);
}

std::atomic<int>& chosen() {
  static std::atomic<int> value{static_cast<int>(detect())};
  return value;
}

}  // namespace

VectorIsa vector_isa() { return static_cast<VectorIsa>(chosen().load(std::memory_order_relaxed)); }

const char* vector_isa_name() {
  switch (vector_isa()) {
    case VectorIsa::AVX512: return "AVX512";
    case VectorIsa::AVX2: return "AVX2";
    case VectorIsa::DEFAULT: return "DEFAULT";
  }
  return "DEFAULT";
}

bool set_vector_isa(const char* name) {
  VectorIsa wanted;
  if (std::strcmp(name, "AVX512") == 0) {
    wanted = VectorIsa::AVX512;
  } else if (std::strcmp(name, "AVX2") == 0) {
    wanted = VectorIsa::AVX2;
  } else if (std::strcmp(name, "DEFAULT") == 0) {
    wanted = VectorIsa::DEFAULT;
  } else {
    return false;
  }
  if (!supported(wanted)) return false;
  chosen().store(static_cast<int>(wanted), std::memory_order_relaxed);
  return true;
}

}  // namespace drift
