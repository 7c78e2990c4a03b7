#include "amx_tile_gemms.h"

#include <ATen/Parallel.h>
#include <ATen/native/CPUBlas.h>

#include <algorithm>
#include <atomic>

namespace drift {

namespace {

using BF16 = c10::BFloat16;
namespace cpublas = at::native::cpublas;

constexpr int64_t kChunk = 64;    // output columns (logits, dh) or rows (dw) per packed B / per brgemm call
constexpr int64_t kRowBlock = 64;  // A rows per brgemm call

std::atomic<bool> enabled{true};

int64_t round16(int64_t x) { return (x + 15) / 16 * 16; }

bool available() {
  static const bool amx = cpublas::could_pack(at::kBFloat16);
  return amx;
}

// b_t[k, j] = w[n0 + j, k] for j < n, zero for n <= j < n_pad: the [K = D, N = n_pad] B operand of a logits chunk.
void transpose_rows(const BF16* w, int64_t n0, int64_t n, int64_t n_pad, int64_t D, BF16* b_t) {
  for (int64_t j = 0; j < n_pad; j++) {
    if (j < n) {
      const BF16* row = w + (n0 + j) * D;
      for (int64_t k = 0; k < D; k++) b_t[k * n_pad + j] = row[k];
    } else {
      for (int64_t k = 0; k < D; k++) b_t[k * n_pad + j] = BF16(0.0f);
    }
  }
}

}  // namespace

bool amx_tile_gemms_for(int64_t D) { return enabled.load() && D % 16 == 0 && D > 0 && available(); }

bool set_amx_tile_gemms(bool on) {
  enabled.store(on);
  return available();
}

void amx_logits(const BF16* h, int64_t M, int64_t D, const BF16* w, int64_t N, float* out, int64_t ld_out) {
  const int64_t chunks = (N + kChunk - 1) / kChunk;
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    std::vector<BF16> b_t(D * kChunk), packed(D * kChunk);
    std::vector<float> ragged;
    for (int64_t c = c0; c < c1; c++) {
      const int64_t n0 = c * kChunk, n = std::min(kChunk, N - n0), n_pad = round16(n);
      transpose_rows(w, n0, n, n_pad, D, b_t.data());
      cpublas::pack(D, n_pad, n_pad, n_pad, at::kBFloat16, at::kBFloat16, b_t.data(), packed.data());
      for (int64_t m0 = 0; m0 < M; m0 += kRowBlock) {
        const int64_t mb = std::min(kRowBlock, M - m0);
        if (n == n_pad) {
          cpublas::brgemm(mb, n_pad, D, D, n_pad, ld_out, false, h + m0 * D, packed.data(), out + m0 * ld_out + n0);
        } else {  // a ragged last chunk: compute the padded width aside, keep the real columns
          ragged.resize(mb * n_pad);
          cpublas::brgemm(mb, n_pad, D, D, n_pad, n_pad, false, h + m0 * D, packed.data(), ragged.data());
          for (int64_t r = 0; r < mb; r++) std::copy_n(ragged.data() + r * n_pad, n, out + (m0 + r) * ld_out + n0);
        }
      }
    }
    cpublas::brgemm_release();
  });
}

int64_t amx_scratch_elements(int64_t M, int64_t N) { return round16(M) * round16(N); }

void amx_grad_hidden(const float* g, int64_t ld_g, int64_t M, int64_t N, const BF16* w, int64_t D, float* dh,
                     BF16* scratch) {
  // A = bf16(g) [M, K = N padded to 16], shared by every thread.
  const int64_t k_pad = round16(N);
  BF16* a = scratch;
  at::parallel_for(0, M, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      for (int64_t k = 0; k < k_pad; k++) a[r * k_pad + k] = k < N ? BF16(g[r * ld_g + k]) : BF16(0.0f);
    }
  });
  // Each thread owns a slice of dh's columns: B = w[:, d0:d0+dc], [K = k_pad, N = dc], zero rows past N.
  const int64_t chunks = (D + kChunk - 1) / kChunk;
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    std::vector<BF16> b(k_pad * kChunk), packed(k_pad * kChunk);
    for (int64_t c = c0; c < c1; c++) {
      const int64_t d0 = c * kChunk, dc = std::min(kChunk, D - d0);  // D % 16 == 0, so dc is too
      for (int64_t k = 0; k < k_pad; k++) {
        if (k < N) {
          std::copy_n(w + k * D + d0, dc, b.data() + k * dc);
        } else {
          std::fill_n(b.data() + k * dc, dc, BF16(0.0f));
        }
      }
      cpublas::pack(k_pad, dc, dc, dc, at::kBFloat16, at::kBFloat16, b.data(), packed.data());
      for (int64_t m0 = 0; m0 < M; m0 += kRowBlock) {
        const int64_t mb = std::min(kRowBlock, M - m0);
        cpublas::brgemm(mb, dc, k_pad, k_pad, dc, D, true, a + m0 * k_pad, packed.data(), dh + m0 * D + d0);
      }
    }
    cpublas::brgemm_release();
  });
}

PackedRows amx_pack_rows(const BF16* h, int64_t M, int64_t D) {
  // oneDNN's packing takes at most 64 columns at a time (its packed leading dimension is 16, 32, 48 or 64): one
  // packed [rows_padded, 64] block per 64 columns of h.
  PackedRows p;
  p.rows_padded = round16(M);
  p.cols = D;
  p.data.resize(p.rows_padded * D);
  const int64_t blocks = (D + kChunk - 1) / kChunk;
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    std::vector<BF16> block(p.rows_padded * kChunk);
    for (int64_t b = b0; b < b1; b++) {
      const int64_t d0 = b * kChunk, dc = std::min(kChunk, D - d0);
      for (int64_t r = 0; r < p.rows_padded; r++) {
        if (r < M) {
          std::copy_n(h + r * D + d0, dc, block.data() + r * dc);
        } else {
          std::fill_n(block.data() + r * dc, dc, BF16(0.0f));
        }
      }
      cpublas::pack(p.rows_padded, dc, dc, dc, at::kBFloat16, at::kBFloat16, block.data(),
                    p.data.data() + p.rows_padded * d0);
    }
  });
  return p;
}

void amx_grad_weight(const float* g, int64_t ld_g, int64_t M, int64_t N, const PackedRows& h, float* dw,
                     bool accumulate, BF16* scratch) {
  const int64_t k_pad = h.rows_padded, D = h.cols;
  // A = bf16(g)^T [N, K = M padded], zero columns past M.
  BF16* a_t = scratch;
  // Transposed in blocks of 64 columns: each row of g is read contiguously, and the block's 64 output rows stay in
  // cache while r advances (a column-at-a-time read of g touched a new cache line per element).
  const int64_t col_blocks = (N + kChunk - 1) / kChunk;
  at::parallel_for(0, col_blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      const int64_t j0 = b * kChunk, nj = std::min(kChunk, N - j0);
      for (int64_t r = 0; r < M; r++) {
        const float* src = g + r * ld_g + j0;
        for (int64_t j = 0; j < nj; j++) a_t[(j0 + j) * k_pad + r] = BF16(src[j]);
      }
      for (int64_t j = 0; j < nj; j++) std::fill_n(a_t + (j0 + j) * k_pad + M, k_pad - M, BF16(0.0f));
    }
  });
  const int64_t chunks = (N + kChunk - 1) / kChunk;
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      const int64_t n0 = c * kChunk, n = std::min(kChunk, N - n0);
      for (int64_t d0 = 0; d0 < D; d0 += kChunk) {
        const int64_t dc = std::min(kChunk, D - d0);
        cpublas::brgemm(n, dc, k_pad, k_pad, dc, D, accumulate, a_t + n0 * k_pad,
                        h.data.data() + k_pad * d0, dw + n0 * D + d0);
      }
    }
    cpublas::brgemm_release();
  });
}

}  // namespace drift
