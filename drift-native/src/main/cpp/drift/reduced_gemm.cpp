// See reduced_gemm.h. The stub's per-ISA kernel pointers are public statics of its DispatchStub type; they are only
// declared when these macros are defined, as in LibTorch's own build for x86-64.
#define HAVE_AVX2_CPU_DEFINITION
#define HAVE_AVX512_CPU_DEFINITION
#include "reduced_gemm.h"

#include "bf16_tile_gemms.h"
#include "tile_kernels.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/native/CPUBlas.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <mutex>
#include <vector>

namespace drift {

namespace {

using at::native::TransposeType;
using Stub = at::native::cpublas::gemm_no_downcast_stub_DECLARE_DISPATCH_type;
using GemmFn = at::native::cpublas::gemm_no_downcast_fn;
using SameTypeStub = at::native::cpublas::gemm_stub_DECLARE_DISPATCH_type;
using SameTypeGemmFn = at::native::cpublas::gemm_fn;
using Sgemm = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                       const int*, const float*, const int*, const float*, float*, const int*);
using SetThreadsLocal = int (*)(int);

GemmFn original = nullptr;
SameTypeGemmFn original_same_type = nullptr;
Sgemm sgemm = nullptr;
SetThreadsLocal set_threads_local = nullptr;
std::atomic<int64_t> calls{0};
std::atomic<int64_t> bf16_out_calls{0};

// OpenBLAS's thread count is one value for the whole process (openblas_set_num_threads_local sets it and returns the
// old one). ATen calls the GEMM from several threads at once, and each saving and restoring it raced: two threads
// saving 2 and 1 and restoring in the other order left it at 1, so every fp32 sgemm after a bf16 run in the same
// process ran single-threaded and summed in another order (a model trained in fp32 after a bf16 run differed in its
// bits from one trained in a fresh process). The first GEMM in sets one thread, the last one out restores it.
std::mutex threads_mutex;
int gemms_in_flight = 0;
int threads_before = 0;

void enter_one_thread() {
  if (set_threads_local == nullptr) return;
  std::lock_guard<std::mutex> lock(threads_mutex);
  if (gemms_in_flight++ == 0) threads_before = set_threads_local(1);
}

void leave_one_thread() {
  if (set_threads_local == nullptr) return;
  std::lock_guard<std::mutex> lock(threads_mutex);
  if (--gemms_in_flight == 0) set_threads_local(threads_before);
}

// A column-major [rows, cols] matrix with leading dimension ld, widened into a dense column-major fp32 buffer.
template <typename T>
void widen(const T* src, int64_t rows, int64_t cols, int64_t ld, float* dst) {
  for (int64_t j = 0; j < cols; j++) {
    const T* col = src + j * ld;
    float* out = dst + j * rows;
    for (int64_t i = 0; i < rows; i++) out[i] = static_cast<float>(col[i]);
  }
}

template <typename T>
void widened_gemm(TransposeType transa, TransposeType transb, int64_t m, int64_t n, int64_t k, float alpha,
                  const T* a, int64_t lda, const T* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const bool ta = transa != TransposeType::NoTranspose, tb = transb != TransposeType::NoTranspose;
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
  // Per thread: ATen calls this from inside its own parallel loops.
  thread_local std::vector<float> a32, b32;
  a32.resize(static_cast<size_t>(a_rows * a_cols));
  b32.resize(static_cast<size_t>(b_rows * b_cols));
  widen(a, a_rows, a_cols, lda, a32.data());
  widen(b, b_rows, b_cols, ldb, b32.data());
  const char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
  const int im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  const int ila = static_cast<int>(a_rows), ilb = static_cast<int>(b_rows), ilc = static_cast<int>(ldc);
  // One BLAS thread: the caller's parallel loop already occupies every core.
  enter_one_thread();
  sgemm(&ca, &cb, &im, &in, &ik, &alpha, a32.data(), &ila, b32.data(), &ilb, &beta, c, &ilc);
  leave_one_thread();
}

// The same GEMM on oneDNN's brgemm with bf16 operands (AVX512-BF16's dot products), fp32 accumulation. BLAS's
// column-major C[m, n] is row-major C^T[n, m] = op(B)^T op(A)^T: A' = op(B)^T [n, k] and B' = op(A)^T [k, m] are
// gathered row-major with K zero-padded to 16, and bf16_gemm_rows packs B' and multiplies.
void brgemm_gemm(TransposeType transa, TransposeType transb, int64_t m, int64_t n, int64_t k, float alpha,
                 const c10::BFloat16* a, int64_t lda, const c10::BFloat16* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  const bool ta = transa != TransposeType::NoTranspose, tb = transb != TransposeType::NoTranspose;
  const int64_t k_pad = (k + 15) / 16 * 16;
  thread_local std::vector<c10::BFloat16> a_rows, b_rows;
  thread_local std::vector<float> product;
  a_rows.assign(static_cast<size_t>(n * k_pad), c10::BFloat16(0.0f));
  b_rows.assign(static_cast<size_t>(k_pad * m), c10::BFloat16(0.0f));
  for (int64_t j = 0; j < n; j++) {
    c10::BFloat16* row = a_rows.data() + j * k_pad;
    if (!tb) {
      std::copy_n(b + j * ldb, k, row);
    } else {
      for (int64_t kk = 0; kk < k; kk++) row[kk] = b[kk * ldb + j];
    }
  }
  for (int64_t kk = 0; kk < k; kk++) {
    c10::BFloat16* row = b_rows.data() + kk * m;
    if (!ta) {
      std::copy_n(a + kk * lda, m, row);
    } else {
      for (int64_t i = 0; i < m; i++) row[i] = a[i * lda + kk];
    }
  }
  if (alpha == 1.0f && (beta == 0.0f || beta == 1.0f)) {
    bf16_gemm_rows(n, m, k_pad, a_rows.data(), b_rows.data(), c, ldc, beta == 1.0f);
    return;
  }
  product.resize(static_cast<size_t>(n * m));
  bf16_gemm_rows(n, m, k_pad, a_rows.data(), b_rows.data(), product.data(), m, false);
  for (int64_t j = 0; j < n; j++) {
    for (int64_t i = 0; i < m; i++) {
      float& out = c[j * ldc + i];
      out = alpha * product[j * m + i] + (beta == 0.0f ? 0.0f : beta * out);
    }
  }
}

void reduced_gemm(c10::ScalarType type, TransposeType transa, TransposeType transb, int64_t m, int64_t n, int64_t k,
                  const c10::Scalar& alpha, const void* a, int64_t lda, const void* b, int64_t ldb,
                  const c10::Scalar& beta, void* c, int64_t ldc) {
  const bool fits = m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
                    ldc <= INT_MAX && m * k <= INT_MAX && k * n <= INT_MAX;
  if (!fits || m == 0 || n == 0 || (type != at::kBFloat16 && type != at::kHalf)) {
    original(type, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  calls.fetch_add(1, std::memory_order_relaxed);
  const float al = alpha.to<float>(), be = beta.to<float>();
  float* out = static_cast<float*>(c);
  if (k == 0) {  // C = beta C, which sgemm_ also does, but with k = 0 the operands may be null
    for (int64_t j = 0; j < n; j++)
      for (int64_t i = 0; i < m; i++) out[j * ldc + i] = be == 0.0f ? 0.0f : be * out[j * ldc + i];
    return;
  }
  // AMX keeps the widened sgemm: its brgemm here is not yet measured on a CPU with AMX.
  if (type == at::kBFloat16 && bf16_gemm_path() == Bf16GemmPath::AVX512_BF16) {
    brgemm_gemm(transa, transb, m, n, k, al, static_cast<const c10::BFloat16*>(a), lda,
                static_cast<const c10::BFloat16*>(b), ldb, be, out, ldc);
  } else if (type == at::kBFloat16) {
    widened_gemm(transa, transb, m, n, k, al, static_cast<const c10::BFloat16*>(a), lda,
                 static_cast<const c10::BFloat16*>(b), ldb, be, out, ldc);
  } else {
    widened_gemm(transa, transb, m, n, k, al, static_cast<const c10::Half*>(a), lda,
                 static_cast<const c10::Half*>(b), ldb, be, out, ldc);
  }
}

// bf16 x bf16 -> bf16 (ATen's gemm_stub: the decoder's bf16 matmuls, forward and backward, once ATen's oneDNN is off
// for them) on the WIDEN path: A, B and, when beta is not 0, C widened to fp32, one sgemm, C rounded to bf16 once, as
// ATen's own loop rounds it. A CPU without bf16 instructions multiplies fp32 fastest: measured on the 2-core AMD
// EPYC capped as an AVX2-only CPU (ATEN_CPU_CAPABILITY=avx2, oneDNN off), ATen's bf16 GEMM ran at 41 GFLOP/s at
// [2048 x 896] x [896 x 4864] and fp32 at 171; capped at AVX512_CORE, oneDNN's emulated bf16 ran at 71 against 189.
void widened_bf16_gemm(TransposeType transa, TransposeType transb, int64_t m, int64_t n, int64_t k, float alpha,
                       const c10::BFloat16* a, int64_t lda, const c10::BFloat16* b, int64_t ldb, float beta,
                       c10::BFloat16* c, int64_t ldc) {
  const bool ta = transa != TransposeType::NoTranspose, tb = transb != TransposeType::NoTranspose;
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
  // Called at the top level (a matmul) or inside ATen's parallel loops (a batched product's items): there, one BLAS
  // thread and no nested loop, as in widened_gemm.
  const bool nested = at::in_parallel_region();
  const int64_t grain = nested ? INT64_MAX : 16;
  std::vector<float> a32(static_cast<size_t>(a_rows * a_cols)), b32(static_cast<size_t>(b_rows * b_cols));
  std::vector<float> c32(static_cast<size_t>(m * n));
  at::parallel_for(0, a_cols, grain, [&](int64_t j0, int64_t j1) {
    widen(a + j0 * lda, a_rows, j1 - j0, lda, a32.data() + j0 * a_rows);
  });
  at::parallel_for(0, b_cols, grain, [&](int64_t j0, int64_t j1) {
    widen(b + j0 * ldb, b_rows, j1 - j0, ldb, b32.data() + j0 * b_rows);
  });
  if (beta != 0.0f) {
    at::parallel_for(0, n, grain, [&](int64_t j0, int64_t j1) {
      widen(c + j0 * ldc, m, j1 - j0, ldc, c32.data() + j0 * m);
    });
  }
  const char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
  const int im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  const int ila = static_cast<int>(a_rows), ilb = static_cast<int>(b_rows);
  if (nested) enter_one_thread();
  sgemm(&ca, &cb, &im, &in, &ik, &alpha, a32.data(), &ila, b32.data(), &ilb, &beta, c32.data(), &im);
  if (nested) leave_one_thread();
  at::parallel_for(0, n, grain, [&](int64_t j0, int64_t j1) {  // each column rounded to nearest-even
    tile_round_bf16(c32.data() + j0 * m, m, j1 - j0, m, c + j0 * ldc, ldc, m);
  });
}

void same_type_gemm(c10::ScalarType type, TransposeType transa, TransposeType transb, int64_t m, int64_t n,
                    int64_t k, const c10::Scalar& alpha, const void* a, int64_t lda, const void* b, int64_t ldb,
                    const c10::Scalar& beta, void* c, int64_t ldc) {
  const bool fits = m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && m * k <= INT_MAX && k * n <= INT_MAX &&
                    m * n <= INT_MAX;
  if (type != at::kBFloat16 || bf16_gemm_path() != Bf16GemmPath::WIDEN || !fits || m == 0 || n == 0 || k == 0) {
    original_same_type(type, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  bf16_out_calls.fetch_add(1, std::memory_order_relaxed);
  widened_bf16_gemm(transa, transb, m, n, k, alpha.to<float>(), static_cast<const c10::BFloat16*>(a), lda,
                    static_cast<const c10::BFloat16*>(b), ldb, beta.to<float>(), static_cast<c10::BFloat16*>(c), ldc);
}

// OpenBLAS is already in the process (libtorch_cpu needs it), but loaded without RTLD_GLOBAL: find it by name.
void* loaded_openblas() {
  for (const char* name : {"libopenblas.so.0", "libopenblas_nolapack.so.0", "libopenblas.so"}) {
    if (void* h = dlopen(name, RTLD_LAZY | RTLD_NOLOAD)) return h;
  }
  return nullptr;
}

}  // namespace

bool install_reduced_gemm() {
  static const bool installed = [] {
    void* blas = loaded_openblas();
    if (blas == nullptr) return false;
    sgemm = reinterpret_cast<Sgemm>(dlsym(blas, "sgemm_"));
    set_threads_local = reinterpret_cast<SetThreadsLocal>(dlsym(blas, "openblas_set_num_threads_local"));
    if (sgemm == nullptr) return false;
    original = Stub::DEFAULT;  // what oversized calls fall back to: the ISA-neutral build runs on any CPU
    if (original == nullptr) return false;
    Stub::DEFAULT = &reduced_gemm;
    Stub::AVX2 = &reduced_gemm;
    Stub::AVX512 = &reduced_gemm;
    original_same_type = SameTypeStub::DEFAULT;
    if (original_same_type != nullptr) {
      SameTypeStub::DEFAULT = &same_type_gemm;
      SameTypeStub::AVX2 = &same_type_gemm;
      SameTypeStub::AVX512 = &same_type_gemm;
    }
    route_aten_bf16_matmuls();
    return true;
  }();
  return installed;
}

void route_aten_bf16_matmuls() {
  // ATen asks oneDNN first for bf16 matmuls wherever the CPU has AVX-512 (oneDNN then emulates bf16 without the
  // bf16 instructions); with it off they reach gemm_stub, widened above. Nothing else drift runs uses ATen's oneDNN
  // (fp32 matmuls are OpenBLAS's; its fp32 path needs a lowered matmul precision, which drift never sets).
  at::globalContext().setUserEnabledMkldnn(bf16_gemm_path() != Bf16GemmPath::WIDEN);
}

int64_t reduced_gemm_calls() { return calls.load(std::memory_order_relaxed); }

int64_t widened_bf16_gemm_calls() { return bf16_out_calls.load(std::memory_order_relaxed); }

int64_t reduced_gemm_blas_threads() {
  using GetThreads = int (*)();
  void* blas = loaded_openblas();
  auto get = blas == nullptr ? nullptr : reinterpret_cast<GetThreads>(dlsym(blas, "openblas_get_num_threads"));
  return get == nullptr ? 0 : get();
}

}  // namespace drift
