#include "rmsprop_step.h"

#include <c10/core/GradMode.h>
#include <c10/util/BFloat16.h>

#include "errors.h"
#include "rmsprop_kernels.h"
#include "split_master.h"

namespace drift {

namespace {

// The same update as ATen ops, for a device with neither the CPU loop nor the CUDA kernel: more passes over memory,
// but each operation rounds as the loop's does (products and sums one at a time, sqrt and division correctly
// rounded), so the result is the loop's bit for bit.
void update_aten(const at::Tensor& weight, const at::Tensor& grad, const at::Tensor& master,
                 const at::Tensor& square_avg, bool split, float lr, float scale, float alpha, float eps, float wd) {
  c10::NoGradGuard no_grad;
  const float one_minus_alpha = 1.0f - alpha, neg_lr = -lr;
  const at::Tensor m = split ? join_master_aten(weight, master) : master;
  at::Tensor g = grad.to(at::kFloat);
  if (scale != 1.0f) g = g * scale;
  if (wd != 0.0f) g = g + m * wd;
  const at::Tensor v = square_avg * alpha + (g * g) * one_minus_alpha;
  square_avg.copy_(v);
  const at::Tensor updated = m + (g / (v.sqrt() + eps)) * neg_lr;
  if (split) {
    const std::vector<at::Tensor> halves = split_master_aten(updated);
    weight.copy_(halves[0]);
    master.copy_(halves[1]);
  } else {
    if (!master.is_same(weight)) master.copy_(updated);
    weight.copy_(updated);  // bf16: rounded to nearest-even, as the loop's W(m)
  }
}

}  // namespace

void rmsprop_step(const at::Tensor& weight, const at::Tensor& grad, const at::Tensor& master,
                  const at::Tensor& square_avg, double lr, double scale, double alpha, double eps,
                  double weight_decay) {
  translate_errors([&] {
    TORCH_CHECK(weight.defined() && grad.defined() && master.defined() && square_avg.defined(),
                "rmsprop_step: weight, grad, master and square_avg must all be defined");
    TORCH_CHECK(grad.device() == weight.device() && master.device() == weight.device() &&
                    square_avg.device() == weight.device(),
                "rmsprop_step: weight (", weight.device(), "), grad (", grad.device(), "), master (", master.device(),
                ") and square_avg (", square_avg.device(), ") must be on one device");
    TORCH_CHECK(weight.scalar_type() == at::kFloat || weight.scalar_type() == at::kBFloat16,
                "rmsprop_step: weight must be Float or BFloat16, got ", weight.scalar_type());
    TORCH_CHECK(grad.scalar_type() == weight.scalar_type(), "rmsprop_step: grad is ", grad.scalar_type(),
                " but weight is ", weight.scalar_type());
    const bool split = master.scalar_type() == at::kShort;
    TORCH_CHECK((master.scalar_type() == at::kFloat || split) && square_avg.scalar_type() == at::kFloat,
                "rmsprop_step: master must be Float (or Short, a split master's residual) and square_avg Float, got ",
                master.scalar_type(), " and ", square_avg.scalar_type());
    TORCH_CHECK(!split || weight.scalar_type() == at::kBFloat16,
                "rmsprop_step: a split master (Short residual) needs a BFloat16 weight, got ", weight.scalar_type());
    const int64_t n = weight.numel();
    TORCH_CHECK(grad.numel() == n && master.numel() == n && square_avg.numel() == n,
                "rmsprop_step: weight has ", n, " elements but grad has ", grad.numel(), ", master ", master.numel(),
                " and square_avg ", square_avg.numel());
    TORCH_CHECK(weight.is_contiguous() && grad.is_contiguous() && master.is_contiguous() &&
                    square_avg.is_contiguous(),
                "rmsprop_step: every tensor must be contiguous");
    if (weight.scalar_type() == at::kFloat) {
      TORCH_CHECK(master.data_ptr() == weight.data_ptr(),
                  "rmsprop_step: an fp32 weight is its own master; pass the same tensor twice");
    }
#ifdef DRIFT_WITH_CUDA
    if (weight.is_cuda()) {
      rmsprop_step_cuda(weight, grad, master, square_avg, lr, scale, alpha, eps, weight_decay);
      return;
    }
#endif
    TORCH_CHECK(!weight.is_cuda(), "rmsprop_step: ", weight.device(),
                " tensors, but this build of drift-native has no CUDA kernels (run cppbuild.sh --cuda)");
    if (!weight.device().is_cpu()) {
      update_aten(weight, grad, master, square_avg, split, static_cast<float>(lr), static_cast<float>(scale),
                  static_cast<float>(alpha), static_cast<float>(eps), static_cast<float>(weight_decay));
      return;
    }
    const RmspropArgs args{static_cast<float>(lr), static_cast<float>(scale), static_cast<float>(alpha),
                           static_cast<float>(eps), static_cast<float>(weight_decay)};
    if (split) {
      rmsprop_split(reinterpret_cast<uint16_t*>(weight.mutable_data_ptr<c10::BFloat16>()),
                    grad.const_data_ptr<c10::BFloat16>(), master.mutable_data_ptr<int16_t>(),
                    square_avg.mutable_data_ptr<float>(), n, args);
    } else if (weight.scalar_type() == at::kFloat) {
      rmsprop_fp32(master.mutable_data_ptr<float>(), grad.const_data_ptr<float>(),
                   square_avg.mutable_data_ptr<float>(), n, args);
    } else {
      rmsprop_bf16(weight.mutable_data_ptr<c10::BFloat16>(), grad.const_data_ptr<c10::BFloat16>(),
                   master.mutable_data_ptr<float>(), square_avg.mutable_data_ptr<float>(), n, args);
    }
  });
}

}  // namespace drift
