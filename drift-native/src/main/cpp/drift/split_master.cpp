#include "split_master.h"

#include <ATen/Parallel.h>

#include "errors.h"

namespace drift {

// The bit arithmetic of split_master_bits and join_master_bits as ATen ops, in int64 so that the uint32 sums neither
// overflow nor depend on signed shifts: what runs on a device other than the CPU, without copying to the host.
std::vector<at::Tensor> split_master_aten(const at::Tensor& master) {
  const at::Tensor bits = master.contiguous().view(at::kInt).to(at::kLong).bitwise_and_(0xFFFFFFFFLL);
  const at::Tensor hi = (bits + 0x8000).bitwise_right_shift_(16);  // at most 0x10000, only for NaN bit patterns
  const at::Tensor nan = master.isnan();
  // Values below 2^16 and residuals in [-2^15, 2^15) narrow to int16 by their low 16 bits.
  at::Tensor weight = hi.bitwise_and(0xFFFF).to(at::kShort).masked_fill_(nan, static_cast<int16_t>(0x7FC0));
  at::Tensor residual = (bits - hi.bitwise_left_shift(16)).to(at::kShort).masked_fill_(nan, 0);
  return {weight.view(at::kBFloat16), residual};
}

at::Tensor join_master_aten(const at::Tensor& weight, const at::Tensor& residual) {
  const at::Tensor hi = weight.contiguous().view(at::kShort).to(at::kLong).bitwise_and_(0xFFFF).bitwise_left_shift_(16);
  const at::Tensor bits = (hi + residual.to(at::kLong)).bitwise_and_(0xFFFFFFFFLL);
  return bits.to(at::kInt).view(at::kFloat);  // values at or above 2^31 narrow by their low 32 bits
}

std::vector<at::Tensor> split_master(const at::Tensor& master) {
  std::vector<at::Tensor> out;
  translate_errors([&] {
    TORCH_CHECK(master.defined() && master.scalar_type() == at::kFloat, "split_master: the master must be Float, got ",
                master.defined() ? c10::toString(master.scalar_type()) : "an undefined tensor");
    if (!master.device().is_cpu()) {
      out = split_master_aten(master);
      return;
    }
    const at::Tensor m = master.contiguous();
    at::Tensor w = at::empty(m.sizes(), m.options().dtype(at::kBFloat16));
    at::Tensor r = at::empty(m.sizes(), m.options().dtype(at::kShort));
    const uint32_t* src = reinterpret_cast<const uint32_t*>(m.const_data_ptr<float>());
    uint16_t* wp = reinterpret_cast<uint16_t*>(w.mutable_data_ptr<at::BFloat16>());
    int16_t* rp = r.mutable_data_ptr<int16_t>();
    at::parallel_for(0, m.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; i++) {
        const SplitBits s = split_master_bits(src[i]);
        wp[i] = s.weight;
        rp[i] = s.residual;
      }
    });
    out = {w, r};
  });
  return out;
}

at::Tensor join_master(const at::Tensor& weight, const at::Tensor& residual) {
  at::Tensor out;
  translate_errors([&] {
    TORCH_CHECK(weight.defined() && residual.defined(), "join_master: weight and residual must be defined");
    TORCH_CHECK(weight.scalar_type() == at::kBFloat16 && residual.scalar_type() == at::kShort,
                "join_master: the weight must be BFloat16 and the residual Short, got ", weight.scalar_type(), " and ",
                residual.scalar_type());
    TORCH_CHECK(weight.sizes() == residual.sizes(), "join_master: the weight is ", weight.sizes(),
                " but the residual is ", residual.sizes());
    TORCH_CHECK(weight.device() == residual.device(), "join_master: the weight is on ", weight.device(),
                " but the residual is on ", residual.device());
    if (!weight.device().is_cpu()) {
      out = join_master_aten(weight, residual);
      return;
    }
    const at::Tensor w = weight.contiguous(), r = residual.contiguous();
    at::Tensor m = at::empty(w.sizes(), w.options().dtype(at::kFloat));
    const uint16_t* wp = reinterpret_cast<const uint16_t*>(w.const_data_ptr<at::BFloat16>());
    const int16_t* rp = r.const_data_ptr<int16_t>();
    uint32_t* dst = reinterpret_cast<uint32_t*>(m.mutable_data_ptr<float>());
    at::parallel_for(0, w.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; i++) dst[i] = join_master_bits(wp[i], rp[i]);
    });
    out = m;
  });
  return out;
}

}  // namespace drift
