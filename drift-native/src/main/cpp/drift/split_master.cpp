#include "split_master.h"

#include <ATen/Parallel.h>

#include "errors.h"

namespace drift {

namespace {

// Off the CPU (CUDA, or any other backend) the halves are moved there after a CPU pass: splits and joins happen
// when a stage starts, saves or resumes, never in a training step, and a round trip keeps one code path exact.
at::Tensor on_cpu(const at::Tensor& t) { return t.device().is_cpu() ? t.contiguous() : t.cpu().contiguous(); }

}  // namespace

std::vector<at::Tensor> split_master(const at::Tensor& master) {
  std::vector<at::Tensor> out;
  translate_errors([&] {
    TORCH_CHECK(master.defined() && master.scalar_type() == at::kFloat, "split_master: the master must be Float, got ",
                master.defined() ? c10::toString(master.scalar_type()) : "an undefined tensor");
    const at::Tensor m = on_cpu(master);
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
    out = {w.to(master.device()), r.to(master.device())};
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
    const at::Tensor w = on_cpu(weight), r = on_cpu(residual);
    at::Tensor m = at::empty(w.sizes(), w.options().dtype(at::kFloat));
    const uint16_t* wp = reinterpret_cast<const uint16_t*>(w.const_data_ptr<at::BFloat16>());
    const int16_t* rp = r.const_data_ptr<int16_t>();
    uint32_t* dst = reinterpret_cast<uint32_t*>(m.mutable_data_ptr<float>());
    at::parallel_for(0, w.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; i++) dst[i] = join_master_bits(wp[i], rp[i]);
    });
    out = m.to(weight.device());
  });
  return out;
}

}  // namespace drift
