#include "bf16_tile_gemms.h"

#include "reduced_gemm.h"
#include "tile_kernels.h"

#include <ATen/Parallel.h>
#include <ATen/native/CPUBlas.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <string>

namespace drift {

namespace {

using BF16 = c10::BFloat16;
namespace cpublas = at::native::cpublas;

constexpr int64_t kChunk = 64;    // output columns (logits, dh) or rows (dw) per packed B / per brgemm call
constexpr int64_t kRowBlock = 64;  // A rows per brgemm call

int64_t round16(int64_t x) { return (x + 15) / 16 * 16; }

// oneDNN's ISA ceiling (ONEDNN_MAX_CPU_ISA, or the older DNNL_MAX_CPU_ISA), as oneDNN reads it: whether it lets
// oneDNN use AVX512-BF16's instructions. Unset, or a name at or above AVX512_CORE_BF16: yes.
bool onednn_allows_avx512_bf16() {
  const char* set = std::getenv("ONEDNN_MAX_CPU_ISA");
  if (set == nullptr) set = std::getenv("DNNL_MAX_CPU_ISA");
  if (set == nullptr) return true;
  std::string isa(set);
  for (char& c : isa) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const char* below : {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}) {
    if (isa == below) return false;
  }
  return true;
}

Bf16GemmPath best() {
  static const Bf16GemmPath path = [] {
    // could_pack: oneDNN's effective ISA has AMX (it honours ONEDNN_MAX_CPU_ISA itself).
    if (cpublas::could_pack(at::kBFloat16)) return Bf16GemmPath::AMX;
    if (__builtin_cpu_supports("avx512bf16") && onednn_allows_avx512_bf16()) return Bf16GemmPath::AVX512_BF16;
    return Bf16GemmPath::WIDEN;
  }();
  return path;
}

// Each path runs where the CPU has it; a CPU with a path has every path below it.
bool supported(Bf16GemmPath p) { return static_cast<int>(p) >= static_cast<int>(best()); }

const char* name_of(Bf16GemmPath p) {
  switch (p) {
    case Bf16GemmPath::AMX: return "AMX";
    case Bf16GemmPath::AVX512_BF16: return "AVX512_BF16";
    default: return "WIDEN";
  }
}

bool parse(const char* text, Bf16GemmPath* out) {
  std::string name(text == nullptr ? "" : text);
  for (char& c : name) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (Bf16GemmPath p : {Bf16GemmPath::AMX, Bf16GemmPath::AVX512_BF16, Bf16GemmPath::WIDEN}) {
    if (name == name_of(p)) {
      *out = p;
      return true;
    }
  }
  return false;
}

// The chosen path: the best, or DRIFT_BF16_GEMM's when the CPU has it (a path it lacks is ignored: drift env says
// which ran).
std::atomic<int>& chosen() {
  static std::atomic<int> path{[] {
    Bf16GemmPath p = best();
    Bf16GemmPath asked;
    if (parse(std::getenv("DRIFT_BF16_GEMM"), &asked) && supported(asked)) p = asked;
    return static_cast<int>(p);
  }()};
  return path;
}

// B[K, N] (row stride ld_in) into the VNNI layout brgemm reads for bf16: K padded to even, each pair of rows
// interleaved, out[(k / 2) * 2N + 2n + k % 2] = B[k, n]. On AMX oneDNN packs (cpublas::pack, AMX only).
void pack_b(int64_t K, int64_t N, int64_t ld_in, const BF16* in, BF16* out) {
  if (bf16_gemm_path() == Bf16GemmPath::AMX) {
    cpublas::pack(K, N, ld_in, N, at::kBFloat16, at::kBFloat16, in, out);
    return;
  }
  for (int64_t k = 0; k < K; k += 2) {
    const BF16* r0 = in + k * ld_in;
    BF16* o = out + k * N;
    if (k + 1 < K) {
      const BF16* r1 = r0 + ld_in;
      for (int64_t n = 0; n < N; n++) {
        o[2 * n] = r0[n];
        o[2 * n + 1] = r1[n];
      }
    } else {
      for (int64_t n = 0; n < N; n++) {
        o[2 * n] = r0[n];
        o[2 * n + 1] = BF16(0.0f);
      }
    }
  }
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

// The packed B operand of a logits chunk: B = w[n0 .. n0 + n)^T, [K = D, N = n_pad], zero columns past n. Off AMX the
// VNNI layout is built straight from w's rows in one pass: a VNNI pair (B[k, j], B[k + 1, j]) is the adjacent pair
// w[n0 + j, k .. k + 1], so each 32-bit word of a row moves whole (the transpose then the pack were 4% of a bf16 DPO
// step at Qwen2.5-0.5B's geometry and 256 tokens, perf 2026-12-08). On AMX oneDNN packs the transpose (b_t: scratch).
void pack_rows_transposed(const BF16* w, int64_t n0, int64_t n, int64_t n_pad, int64_t D, BF16* b_t, BF16* out) {
  if (bf16_gemm_path() == Bf16GemmPath::AMX || D % 2 != 0) {
    transpose_rows(w, n0, n, n_pad, D, b_t);
    pack_b(D, n_pad, n_pad, b_t, out);
    return;
  }
  const int64_t pairs = D / 2;
  // out's word p * n_pad + j holds (B[2p, j], B[2p + 1, j]); memcpy moves a word without breaking type aliasing
  for (int64_t j = 0; j < n_pad; j++) {
    const BF16* row = j < n ? w + (n0 + j) * D : nullptr;
    for (int64_t p = 0; p < pairs; p++) {
      uint32_t word = 0;
      if (row != nullptr) std::memcpy(&word, row + 2 * p, sizeof word);
      std::memcpy(out + 2 * (p * n_pad + j), &word, sizeof word);
    }
  }
}

}  // namespace

Bf16GemmPath bf16_gemm_path() { return static_cast<Bf16GemmPath>(chosen().load(std::memory_order_relaxed)); }

const char* bf16_gemm_path_name() { return name_of(bf16_gemm_path()); }

const char* bf16_gemm_best_path_name() { return name_of(best()); }

bool set_bf16_gemm_path(const char* name) {
  Bf16GemmPath p;
  if (!parse(name, &p) || !supported(p)) return false;
  chosen().store(static_cast<int>(p));
  route_aten_bf16_matmuls();
  return true;
}

bool bf16_tile_gemms_for(int64_t D) { return bf16_gemm_path() != Bf16GemmPath::WIDEN && D % 16 == 0 && D > 0; }

void bf16_logits(const BF16* h, int64_t M, int64_t D, const BF16* w, int64_t N, float* out, int64_t ld_out) {
  const int64_t chunks = (N + kChunk - 1) / kChunk;
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    std::vector<BF16> b_t(D * kChunk), packed(D * kChunk);
    std::vector<float> ragged;
    for (int64_t c = c0; c < c1; c++) {
      const int64_t n0 = c * kChunk, n = std::min(kChunk, N - n0), n_pad = round16(n);
      pack_rows_transposed(w, n0, n, n_pad, D, b_t.data(), packed.data());
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

int64_t bf16_scratch_elements(int64_t M, int64_t N) { return round16(M) * round16(N); }

void bf16_grad_hidden(const float* g, int64_t ld_g, int64_t M, int64_t N, const BF16* w, int64_t D, float* dh,
                     BF16* scratch) {
  // A = bf16(g) [M, K = N padded to 16], shared by every thread.
  const int64_t k_pad = round16(N);
  BF16* a = scratch;
  at::parallel_for(0, M, 16, [&](int64_t r0, int64_t r1) {
    tile_round_bf16(g + r0 * ld_g, ld_g, r1 - r0, N, a + r0 * k_pad, k_pad, k_pad);
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
      pack_b(k_pad, dc, dc, b.data(), packed.data());
      for (int64_t m0 = 0; m0 < M; m0 += kRowBlock) {
        const int64_t mb = std::min(kRowBlock, M - m0);
        cpublas::brgemm(mb, dc, k_pad, k_pad, dc, D, true, a + m0 * k_pad, packed.data(), dh + m0 * D + d0);
      }
    }
    cpublas::brgemm_release();
  });
}

PackedRows bf16_pack_rows(const BF16* h, int64_t M, int64_t D) {
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
      pack_b(p.rows_padded, dc, dc, block.data(), p.data.data() + p.rows_padded * d0);
    }
  });
  return p;
}

void bf16_grad_weight(const float* g, int64_t ld_g, int64_t M, int64_t N, const PackedRows& h, float* dw,
                     bool accumulate, BF16* scratch) {
  const int64_t k_pad = h.rows_padded, D = h.cols;
  // A = bf16(g)^T [N, K = M padded], zero columns past M.
  BF16* a_t = scratch;
  // Transposed in blocks of 64 columns: each row of g is read contiguously, and the block's 64 output rows stay in
  // cache while r advances (a column-at-a-time read of g touched a new cache line per element).
  const int64_t col_blocks = (N + kChunk - 1) / kChunk;
  at::parallel_for(0, col_blocks, 1, [&](int64_t b0, int64_t b1) {
    std::vector<BF16> rounded(M * kChunk);  // the block's columns of g, rounded (vectorised), then transposed
    for (int64_t b = b0; b < b1; b++) {
      const int64_t j0 = b * kChunk, nj = std::min(kChunk, N - j0);
      tile_round_bf16(g + j0, ld_g, M, nj, rounded.data(), kChunk, nj);
      for (int64_t r = 0; r < M; r++) {
        const BF16* src = rounded.data() + r * kChunk;
        for (int64_t j = 0; j < nj; j++) a_t[(j0 + j) * k_pad + r] = src[j];
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

void bf16_gemm_rows(int64_t M, int64_t N, int64_t K, const BF16* a, const BF16* b, float* c, int64_t ld_c,
                    bool add) {
  thread_local std::vector<BF16> block, packed;
  thread_local std::vector<float> ragged;
  for (int64_t n0 = 0; n0 < N; n0 += kChunk) {
    const int64_t n = std::min(kChunk, N - n0), n_pad = round16(n);
    block.resize(K * n_pad);
    packed.resize(K * n_pad);
    for (int64_t k = 0; k < K; k++) {
      std::copy_n(b + k * N + n0, n, block.data() + k * n_pad);
      std::fill_n(block.data() + k * n_pad + n, n_pad - n, BF16(0.0f));
    }
    pack_b(K, n_pad, n_pad, block.data(), packed.data());
    for (int64_t m0 = 0; m0 < M; m0 += kRowBlock) {
      const int64_t mb = std::min(kRowBlock, M - m0);
      if (n == n_pad) {
        cpublas::brgemm(mb, n_pad, K, K, n_pad, ld_c, add, a + m0 * K, packed.data(), c + m0 * ld_c + n0);
      } else {  // a ragged last block: the padded width aside, then the real columns
        ragged.resize(mb * n_pad);
        if (add) {
          for (int64_t r = 0; r < mb; r++) std::copy_n(c + (m0 + r) * ld_c + n0, n, ragged.data() + r * n_pad);
        }
        cpublas::brgemm(mb, n_pad, K, K, n_pad, n_pad, add, a + m0 * K, packed.data(), ragged.data());
        for (int64_t r = 0; r < mb; r++) std::copy_n(ragged.data() + r * n_pad, n, c + (m0 + r) * ld_c + n0);
      }
    }
  }
  cpublas::brgemm_release();
}

}  // namespace drift
