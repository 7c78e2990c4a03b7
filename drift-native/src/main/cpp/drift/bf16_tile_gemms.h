// The sequence log-prob op's three tile GEMMs for bf16 weights on x86 CPUs with bf16 dot products: bf16 operands,
// fp32 accumulation and output, through oneDNN's brgemm micro-kernel as LibTorch exports it
// (at::native::cpublas::brgemm with a VNNI-packed B, the kernel SDPA's CPU flash attention uses).
//
// Three paths, chosen once from the CPU and oneDNN's ONEDNN_MAX_CPU_ISA, and switchable for tests and benchmarks
// (DRIFT_BF16_GEMM=amx|avx512_bf16|widen, or set_bf16_gemm_path):
//   AMX          brgemm on AMX tiles, B packed by oneDNN (cpublas::pack, which packs on AMX only);
//   AVX512_BF16  brgemm on AVX512-BF16's vdpbf16ps (oneDNN's avx512_core_bf16 kernels), B packed here in the same
//                VNNI layout (pairs of K rows interleaved);
//   WIDEN        none of these: the op promotes bf16 tiles to fp32 and multiplies on OpenBLAS's sgemm.
// Without brgemm, 26.6% of a bf16 DPO step (small Qwen2, vocab 32,000) went to sgemm at ~0.15-0.25 TFLOP/s on a Xeon
// whose AMX does ~1-1.8 TFLOP/s. The products are exact on every path (bf16 x bf16 fits fp32) and all accumulate in
// fp32, so forward logits agree to summation order. The backward GEMMs take the tile's gradient G rounded to bf16, as
// autograd rounds the logits' gradient of a bf16 lm-head (and as the CUDA path does).
//
// Shapes: rows are row-major and contiguous; D (hidden size) must be a multiple of 16, which bf16_tile_gemms_for
// checks. Ragged edges (vocabulary or row counts not a multiple of 16) are zero-padded inside.
#pragma once

#include <c10/util/BFloat16.h>

#include <cstdint>
#include <vector>

namespace drift {

enum class Bf16GemmPath { AMX, AVX512_BF16, WIDEN };

// The path bf16 tile GEMMs take now, and its name ("AMX", "AVX512_BF16", "WIDEN").
Bf16GemmPath bf16_gemm_path();
const char* bf16_gemm_path_name();

// The best path this CPU (and ONEDNN_MAX_CPU_ISA) allows, whatever was chosen since.
const char* bf16_gemm_best_path_name();

// Runs bf16 tile GEMMs on the named path from now on (AMX, AVX512_BF16 or WIDEN, any case, '-' for '_'). False (and
// no change) when the name is unknown or this CPU lacks the path; a CPU with AMX can take every path, but oneDNN then
// runs its AVX512_BF16 path's brgemm on AMX unless ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 was set before it started.
bool set_bf16_gemm_path(const char* name);

// True when a brgemm path (AMX or AVX512_BF16) runs for hidden size D.
bool bf16_tile_gemms_for(int64_t D);

// out[M, N] (row stride ld_out) = h[M, D] w[N, D]^T.
void bf16_logits(const c10::BFloat16* h, int64_t M, int64_t D, const c10::BFloat16* w, int64_t N, float* out,
                 int64_t ld_out);

// The bf16 scratch both gradient GEMMs round the tile's gradient into: at least bf16_scratch_elements(M, N). The
// caller keeps one for all tiles; made per tile it was tens of MB of fresh pages for the kernel to zero each time.
int64_t bf16_scratch_elements(int64_t M, int64_t N);

// dh[M, D] += bf16(g[M, N]) w[N, D], g with row stride ld_g.
void bf16_grad_hidden(const float* g, int64_t ld_g, int64_t M, int64_t N, const c10::BFloat16* w, int64_t D,
                      float* dh, c10::BFloat16* scratch);

// Rows h[M, D] packed once as the B operand of bf16_grad_weight (K = M padded to 16), in blocks of 64 columns.
struct PackedRows {
  std::vector<c10::BFloat16> data;
  int64_t rows_padded = 0, cols = 0;
};
PackedRows bf16_pack_rows(const c10::BFloat16* h, int64_t M, int64_t D);

// dw[N, D] = (accumulate ? dw : 0) + bf16(g[M, N])^T h[M, D], h given packed.
void bf16_grad_weight(const float* g, int64_t ld_g, int64_t M, int64_t N, const PackedRows& h, float* dw,
                      bool accumulate, c10::BFloat16* scratch);

// c[M, N] (row-major, row stride ld_c) = (add ? c : 0) + a[M, K] b[K, N], a and b row-major and dense, K a multiple
// of 16 (zero-padded by the caller): one thread (callers run it inside their own parallel loops), N in blocks of
// 64 packed on the fly. For GEMMs whose operands change at every call (the attention backward's, reduced_gemm.h).
void bf16_gemm_rows(int64_t M, int64_t N, int64_t K, const c10::BFloat16* a, const c10::BFloat16* b, float* c,
                    int64_t ld_c, bool add);

}  // namespace drift
