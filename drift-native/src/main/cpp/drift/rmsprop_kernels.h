// The CPU loops behind rmsprop_step (rmsprop_step.h): one pass over memory per update, vectorised, built once per
// instruction set (rmsprop_kernels_{avx512,avx2,default}.cpp) and run with the build vector_isa.h chose.
//
// Each element is updated as the scalar formula says, one fp32 rounding per operation and none fused (no FMA:
// cppbuild.sh compiles with -ffp-contract=off), and vector sqrt and division round correctly as the scalar ones do,
// so every build gives the same bits. The scalar loop this replaces (x86-64 baseline, sqrtss/divss) was 10% of a
// bf16 DPO step at Qwen2.5-0.5B's geometry and 256 tokens on a 2-core AMD EPYC (perf, 2026-12-08).
#pragma once

#include <c10/util/BFloat16.h>

#include <cstdint>

namespace drift {

struct RmspropArgs {
  float lr, scale, alpha, eps, weight_decay;
};

// An fp32 weight that is its own master.
void rmsprop_fp32(float* m, const float* grad, float* v, int64_t n, const RmspropArgs& a);

// A bf16 weight over an fp32 master: w = m rounded to nearest-even.
void rmsprop_bf16(c10::BFloat16* w, const c10::BFloat16* grad, float* m, float* v, int64_t n, const RmspropArgs& a);

// A bf16 weight over a split master (split_master.h): joined, updated and split in the same pass.
void rmsprop_split(uint16_t* w, const c10::BFloat16* grad, int16_t* r, float* v, int64_t n, const RmspropArgs& a);

}  // namespace drift
