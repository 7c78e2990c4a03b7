// Sends each tile kernel to the build vector_isa.h chose.
#include "tile_kernels.h"

#include "vector_isa.h"

namespace drift {

#define DRIFT_TILE_KERNELS_BUILD(ISA)                                                                      \
  namespace ISA {                                                                                          \
  void tile_logsumexp(const float*, int64_t, int64_t, float*);                                             \
  void tile_scaled_softmax(float*, int64_t, int64_t, const float*, const float*);                          \
  void tile_round_bf16(const float*, int64_t, int64_t, int64_t, c10::BFloat16*, int64_t, int64_t);         \
  }
DRIFT_TILE_KERNELS_BUILD(AVX512)
DRIFT_TILE_KERNELS_BUILD(AVX2)
DRIFT_TILE_KERNELS_BUILD(DEFAULT)
#undef DRIFT_TILE_KERNELS_BUILD

void tile_logsumexp(const float* tile, int64_t rows, int64_t cols, float* out) {
  DRIFT_VECTOR_DISPATCH(tile_logsumexp(tile, rows, cols, out))
}

void tile_scaled_softmax(float* tile, int64_t rows, int64_t cols, const float* lse, const float* scale) {
  DRIFT_VECTOR_DISPATCH(tile_scaled_softmax(tile, rows, cols, lse, scale))
}

void tile_round_bf16(const float* src, int64_t ld_src, int64_t rows, int64_t cols, c10::BFloat16* dst,
                     int64_t ld_dst, int64_t width) {
  DRIFT_VECTOR_DISPATCH(tile_round_bf16(src, ld_src, rows, cols, dst, ld_dst, width))
}

}  // namespace drift
