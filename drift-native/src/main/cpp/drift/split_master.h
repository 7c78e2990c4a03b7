// An fp32 master weight stored in two 16-bit halves: the bf16 weight the model computes with, and a signed 16-bit
// residual, so that the master's bits are exactly (weight_bits << 16) + residual (mod 2^32).
//
// Mixed precision with separate fp32 masters holds 6 bytes per parameter (bf16 weight + fp32 master); the split holds
// 4 and loses nothing of the master. At Qwen2.5-0.5B's geometry that is 0.99 GB of the step's peak. The price is the
// rounding of the compute weight: it is the master rounded to nearest with ties away from zero, which equals
// round-to-nearest-even (what a bf16 cast gives) except when the master's low 16 bits are exactly 0x8000 and its
// bf16 truncation is even (a chance of 2^-17 per weight); there it is one bf16 ulp larger in magnitude.
//
//   split:  hi = (bits + 0x8000) >> 16,  residual = bits - (hi << 16)  in [-32768, 32767]
//   join:   bits = (hi << 16) + residual
//
// A NaN master splits into bf16's canonical NaN with residual 0 (so it stays NaN rather than wrapping around).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace drift {

// The two halves of one fp32 master, as bit patterns: the bf16 weight's and the residual.
struct SplitBits {
  uint16_t weight;
  int16_t residual;
};

#if defined(__CUDACC__)
__host__ __device__
#endif
inline SplitBits split_master_bits(uint32_t bits) {
  if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu) != 0) {
    return {static_cast<uint16_t>(0x7FC0u), 0};  // NaN
  }
  const uint32_t hi = (bits + 0x8000u) >> 16;
  return {static_cast<uint16_t>(hi), static_cast<int16_t>(static_cast<int32_t>(bits - (hi << 16)))};
}

#if defined(__CUDACC__)
__host__ __device__
#endif
inline uint32_t join_master_bits(uint16_t weight, int16_t residual) {
  return (static_cast<uint32_t>(weight) << 16) + static_cast<uint32_t>(static_cast<int32_t>(residual));
}

// master: fp32. Returns {weight bf16, residual int16}, each shaped like master, on its device.
std::vector<at::Tensor> split_master(const at::Tensor& master);

// weight: bf16, residual: int16, same shape and device. Returns the fp32 master.
at::Tensor join_master(const at::Tensor& weight, const at::Tensor& residual);

// The same two as ATen ops (int64 bit arithmetic), for devices other than the CPU; equal bit for bit.
std::vector<at::Tensor> split_master_aten(const at::Tensor& master);
at::Tensor join_master_aten(const at::Tensor& weight, const at::Tensor& residual);

}  // namespace drift
