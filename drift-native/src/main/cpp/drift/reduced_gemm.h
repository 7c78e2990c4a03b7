// A fast bf16/fp16 x bf16/fp16 -> fp32 CPU GEMM under ATen's kernels that ask for one.
//
// ATen's CPU kernels that multiply reduced-precision operands into fp32 accumulators call cpublas::gemm with a
// float output; the flash-attention backward (SDPA's CPU kernel for bf16) makes five such GEMMs per block. A LibTorch
// built with MKL sends them to MKL's sbgemm; the bytedeco build links OpenBLAS without sbgemm, so they fall to
// gemm_no_downcast_stub, a scalar triple loop. Measured on a 2-core Xeon (AMX): SDPA forward + backward in bf16,
// [2, 14, 2048, 64], 2,832 ms against pip's torch 212 ms; at [8, 8, 256, 64] 182 ms against 24 ms.
//
// install_reduced_gemm() puts a replacement behind that stub: both operands are widened to fp32 (exact: every bf16
// and fp16 value is an fp32 value) and multiplied by OpenBLAS's sgemm_, the BLAS this LibTorch already runs its fp32
// GEMMs on. The products and the fp32 accumulation are the same as the scalar loop's, summed in another order.
// (Upstream does the same for fp16 -> fp16 when no fp16 BLAS exists, pytorch#146508.)
#pragma once

#include <cstdint>

namespace drift {

// On the WIDEN bf16 path (bf16_tile_gemms.h: a CPU without AVX512-BF16 or AMX) the replacement also takes ATen's
// bf16 x bf16 -> bf16 GEMMs (gemm_stub: the decoder's matmuls): widened to fp32, one sgemm, the result rounded once.
// On the other paths those stay with ATen (oneDNN's bf16 kernels).
//
// Installs the replacement; true when it is in place (false when no sgemm_ is loaded: ATen's loop stays). Call
// before the first reduced-precision GEMM with fp32 output (ATen caches the kernel it picks at its first call).
bool install_reduced_gemm();

// GEMMs the replacement has computed in this process (tests check that ATen's kernels reach it).
int64_t reduced_gemm_calls();

// bf16 -> bf16 GEMMs widened so far in this process.
int64_t widened_bf16_gemm_calls();

// Sends ATen's bf16 matmuls where the bf16 path wants them: to oneDNN (ATen's default) on AMX and AVX512_BF16, to
// gemm_stub (and so the widened sgemm) on WIDEN, by turning ATen's oneDNN use off. Called at install and whenever
// the path changes (set_bf16_gemm_path).
void route_aten_bf16_matmuls();

// OpenBLAS's thread count now (0 when OpenBLAS is not loaded): the replacement runs sgemm on one thread and must leave
// the count as it found it, however many threads call it at once.
int64_t reduced_gemm_blas_threads();

}  // namespace drift
