// The sequence log-prob op's three tile GEMMs for bf16 weights on CPUs with AMX: bf16 operands, fp32 accumulation
// and output, through oneDNN's brgemm micro-kernel as LibTorch exports it (at::native::cpublas::brgemm with a
// VNNI-packed B, the kernel SDPA's CPU flash attention uses).
//
// Without them the op promotes bf16 tiles to fp32 and multiplies on OpenBLAS's sgemm: measured 26.6% of a bf16 DPO
// step (small Qwen2, vocab 32,000) in sgemm at ~0.15-0.25 TFLOP/s, where this machine's AMX does ~1-1.8 TFLOP/s.
// The products are exact in both (bf16 x bf16 fits fp32) and both accumulate in fp32, so forward logits agree to
// summation order. The backward GEMMs take the tile's gradient G rounded to bf16, as autograd rounds the logits'
// gradient of a bf16 lm-head (and as the CUDA path does).
//
// Shapes: rows are row-major and contiguous; D (hidden size) must be a multiple of 16, which amx_tile_gemms_for
// checks. Ragged edges (vocabulary or row counts not a multiple of 16) are zero-padded inside.
#pragma once

#include <c10/util/BFloat16.h>

#include <cstdint>
#include <vector>

namespace drift {

// True when the AMX path can run for hidden size D on this CPU and has not been switched off.
bool amx_tile_gemms_for(int64_t D);

// Turns the AMX path off (false) or back on (true) so tests can check both paths on one machine; returns whether
// AMX is available at all.
bool set_amx_tile_gemms(bool on);

// out[M, N] (row stride ld_out) = h[M, D] w[N, D]^T.
void amx_logits(const c10::BFloat16* h, int64_t M, int64_t D, const c10::BFloat16* w, int64_t N, float* out,
                int64_t ld_out);

// The bf16 scratch both gradient GEMMs round the tile's gradient into: at least amx_scratch_elements(M, N). The
// caller keeps one for all tiles; made per tile it was tens of MB of fresh pages for the kernel to zero each time.
int64_t amx_scratch_elements(int64_t M, int64_t N);

// dh[M, D] += bf16(g[M, N]) w[N, D], g with row stride ld_g.
void amx_grad_hidden(const float* g, int64_t ld_g, int64_t M, int64_t N, const c10::BFloat16* w, int64_t D,
                     float* dh, c10::BFloat16* scratch);

// Rows h[M, D] packed once as the B operand of amx_grad_weight (K = M padded to 16), in blocks of 64 columns.
struct PackedRows {
  std::vector<c10::BFloat16> data;
  int64_t rows_padded = 0, cols = 0;
};
PackedRows amx_pack_rows(const c10::BFloat16* h, int64_t M, int64_t D);

// dw[N, D] = (accumulate ? dw : 0) + bf16(g[M, N])^T h[M, D], h given packed.
void amx_grad_weight(const float* g, int64_t ld_g, int64_t M, int64_t N, const PackedRows& h, float* dw,
                     bool accumulate, c10::BFloat16* scratch);

}  // namespace drift
