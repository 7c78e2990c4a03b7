// Sends each tile kernel to the build vector_isa.h chose.
#include "tile_kernels.h"

#include "vector_isa.h"

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

void tile_logsumexp(const float* tile, int64_t rows, int64_t cols, float* out) {
  switch (vector_isa()) {
    case VectorIsa::AVX512: return AVX512::tile_logsumexp(tile, rows, cols, out);
    case VectorIsa::AVX2: return AVX2::tile_logsumexp(tile, rows, cols, out);
    case VectorIsa::DEFAULT: return DEFAULT::tile_logsumexp(tile, rows, cols, out);
  }
}

void tile_scaled_softmax(float* tile, int64_t rows, int64_t cols, const float* lse, const float* scale) {
  switch (vector_isa()) {
    case VectorIsa::AVX512: return AVX512::tile_scaled_softmax(tile, rows, cols, lse, scale);
    case VectorIsa::AVX2: return AVX2::tile_scaled_softmax(tile, rows, cols, lse, scale);
    case VectorIsa::DEFAULT: return DEFAULT::tile_scaled_softmax(tile, rows, cols, lse, scale);
  }
}

void tile_round_bf16(const float* src, int64_t ld_src, int64_t rows, int64_t cols, c10::BFloat16* dst,
                     int64_t ld_dst, int64_t width) {
  switch (vector_isa()) {
    case VectorIsa::AVX512: return AVX512::tile_round_bf16(src, ld_src, rows, cols, dst, ld_dst, width);
    case VectorIsa::AVX2: return AVX2::tile_round_bf16(src, ld_src, rows, cols, dst, ld_dst, width);
    case VectorIsa::DEFAULT: return DEFAULT::tile_round_bf16(src, ld_src, rows, cols, dst, ld_dst, width);
  }
}

}  // namespace drift
