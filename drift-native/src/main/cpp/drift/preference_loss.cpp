// Forward: one loop over the batch computes z, the loss, both rewards and dL/dz (preference_loss_math.h).
// Backward: dL/dz is saved, so the gradient of each input is +-(grad_loss * dL/dz):
//   d/d pi_c = +g,  d/d pi_r = -g,  d/d ref_c = -g,  d/d ref_r = +g,   g = grad_loss * dL/dz.
#include "preference_loss.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "errors.h"

namespace drift {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void check_logps(const at::Tensor& t, const char* name, const at::Tensor& first) {
  TORCH_CHECK(t.defined(), "preference_loss: ", name, " is undefined");
  TORCH_CHECK(t.dim() == 1, "preference_loss: ", name, " must be 1-D [B] summed log-probs, got shape ", t.sizes());
  TORCH_CHECK(at::isFloatingType(t.scalar_type()),
              "preference_loss: ", name, " must be floating point, got ", t.scalar_type());
  TORCH_CHECK(t.size(0) == first.size(0), "preference_loss: ", name, " has batch ", t.size(0),
              " but policy_chosen has batch ", first.size(0));
  TORCH_CHECK(t.device() == first.device(), "preference_loss: ", name, " is on ", t.device(),
              " but policy_chosen is on ", first.device());
}

struct PreferenceLossFunction : public torch::autograd::Function<PreferenceLossFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& pc, const at::Tensor& pr,
                               const at::Tensor& rc, const at::Tensor& rr, double beta, int64_t type,
                               double eps) {
    // Accumulate in fp32 whatever the input precision (fp64 stays fp64 for finite-difference checks).
    const auto acc = pc.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
    auto to_acc = [acc](const at::Tensor& t) { return t.to(acc).contiguous(); };
    at::Tensor pc_a = to_acc(pc), pr_a = to_acc(pr), rc_a = to_acc(rc), rr_a = to_acc(rr);
    at::Tensor loss = at::empty_like(pc_a), chosen = at::empty_like(pc_a), rejected = at::empty_like(pc_a);
    at::Tensor dloss_dz = at::empty_like(pc_a);
    const auto kind = static_cast<PreferenceLossType>(type);
    if (pc_a.is_cuda()) {
#ifdef DRIFT_WITH_CUDA
      preference_loss_forward_cuda(pc_a, pr_a, rc_a, rr_a, beta, kind, eps, loss, chosen, rejected, dloss_dz);
#else
      TORCH_CHECK(false, "preference_loss: inputs are on ", pc.device(),
                  " but drift-native was built without CUDA (run cppbuild.sh --cuda on a CUDA host)");
#endif
    } else if (pc_a.device().is_cpu()) {
      preference_loss_forward_cpu(pc_a, pr_a, rc_a, rr_a, beta, kind, eps, loss, chosen, rejected, dloss_dz);
    } else {
      preference_loss_forward_aten(pc_a, pr_a, rc_a, rr_a, beta, kind, eps, loss, chosen, rejected, dloss_dz);
    }
    ctx->save_for_backward({dloss_dz});
    ctx->saved_data["dtypes"] = std::vector<int64_t>{
        static_cast<int64_t>(pc.scalar_type()), static_cast<int64_t>(pr.scalar_type()),
        static_cast<int64_t>(rc.scalar_type()), static_cast<int64_t>(rr.scalar_type())};
    ctx->mark_non_differentiable({chosen, rejected});
    return {loss, chosen, rejected};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return translate_errors([&]() -> variable_list {
      const at::Tensor dloss_dz = ctx->get_saved_variables()[0];
      const auto dtypes = ctx->saved_data["dtypes"].toIntVector();
      at::Tensor g = grads[0].defined() ? grads[0].to(dloss_dz.scalar_type()) * dloss_dz
                                        : at::zeros_like(dloss_dz);
      auto as = [&](const at::Tensor& t, int i) { return t.to(static_cast<at::ScalarType>(dtypes[i])); };
      at::Tensor neg = -g;
      return {as(g, 0), as(neg, 1), as(neg, 2), as(g, 3), at::Tensor(), at::Tensor(), at::Tensor()};
    });
  }
};

}  // namespace

void preference_loss_forward_cpu(const at::Tensor& pc, const at::Tensor& pr, const at::Tensor& rc,
                                 const at::Tensor& rr, double beta, PreferenceLossType type, double eps,
                                 at::Tensor& loss, at::Tensor& chosen_rewards, at::Tensor& rejected_rewards,
                                 at::Tensor& dloss_dz) {
  AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "preference_loss_forward_cpu", [&] {
    const scalar_t* pc_p = pc.const_data_ptr<scalar_t>();
    const scalar_t* pr_p = pr.const_data_ptr<scalar_t>();
    const scalar_t* rc_p = rc.const_data_ptr<scalar_t>();
    const scalar_t* rr_p = rr.const_data_ptr<scalar_t>();
    scalar_t* loss_p = loss.mutable_data_ptr<scalar_t>();
    scalar_t* chosen_p = chosen_rewards.mutable_data_ptr<scalar_t>();
    scalar_t* rejected_p = rejected_rewards.mutable_data_ptr<scalar_t>();
    scalar_t* dz_p = dloss_dz.mutable_data_ptr<scalar_t>();
    const auto b = static_cast<scalar_t>(beta);
    const auto e = static_cast<scalar_t>(eps);
    at::parallel_for(0, pc.numel(), 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const scalar_t chosen_ratio = pc_p[i] - rc_p[i];
        const scalar_t rejected_ratio = pr_p[i] - rr_p[i];
        chosen_p[i] = b * chosen_ratio;
        rejected_p[i] = b * rejected_ratio;
        preference_loss_pair<scalar_t>(chosen_ratio - rejected_ratio, b, e, type, &loss_p[i], &dz_p[i]);
      }
    });
  });
}

void preference_loss_forward_aten(const at::Tensor& pc, const at::Tensor& pr, const at::Tensor& rc,
                                  const at::Tensor& rr, double beta, PreferenceLossType type, double eps,
                                  at::Tensor& loss, at::Tensor& chosen_rewards, at::Tensor& rejected_rewards,
                                  at::Tensor& dloss_dz) {
  // preference_loss_math.h's formulas, one ATen op per operation in the same order. The constants are rounded to
  // the accumulation type first, as the loop computes them.
  AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "preference_loss_forward_aten", [&] {
    const auto b = static_cast<scalar_t>(beta), e = static_cast<scalar_t>(eps);
    const at::Tensor chosen_ratio = pc - rc, rejected_ratio = pr - rr;
    chosen_rewards.copy_(chosen_ratio * b);
    rejected_rewards.copy_(rejected_ratio * b);
    const at::Tensor z = chosen_ratio - rejected_ratio;
    const at::Tensor bz = z * b;
    auto log_sigmoid = [](const at::Tensor& x) { return x.clamp_max(0) - at::log1p(at::exp(-x.abs())); };
    auto sigmoid = [](const at::Tensor& x) {
      const at::Tensor e_neg = at::exp(-x), e_pos = at::exp(x);
      return at::where(x >= 0, 1 / (1 + e_neg), e_pos / (1 + e_pos));
    };
    const scalar_t keep = scalar_t(1) - e;
    switch (type) {
      case PreferenceLossType::SIGMOID:
        loss.copy_(log_sigmoid(bz) * static_cast<scalar_t>(-keep) - log_sigmoid(-bz) * e);
        dloss_dz.copy_(sigmoid(-bz) * static_cast<scalar_t>(-keep * b) + sigmoid(bz) * static_cast<scalar_t>(e * b));
        break;
      case PreferenceLossType::ROBUST: {
        const scalar_t denom = scalar_t(1) - scalar_t(2) * e;
        loss.copy_(((-log_sigmoid(bz)) * keep + log_sigmoid(-bz) * e) / denom);
        dloss_dz.copy_((sigmoid(-bz) * static_cast<scalar_t>(-keep * b) - sigmoid(bz) * static_cast<scalar_t>(e * b)) /
                       denom);
        break;
      }
      case PreferenceLossType::HINGE:
        loss.copy_(at::where(bz < 1, 1 - bz, at::zeros_like(bz)));
        dloss_dz.copy_(at::where(bz < 1, at::full_like(bz, -b), at::zeros_like(bz)));
        break;
      case PreferenceLossType::IPO: {
        const at::Tensor d = z - static_cast<scalar_t>(scalar_t(1) / (scalar_t(2) * b));
        loss.copy_(d * d);
        dloss_dz.copy_(d * 2);
        break;
      }
    }
  });
}

std::vector<at::Tensor> preference_loss(const at::Tensor& policy_chosen, const at::Tensor& policy_rejected,
                                        const at::Tensor& reference_chosen, const at::Tensor& reference_rejected,
                                        double beta, PreferenceLossType type, double label_smoothing) {
  return translate_errors([&] {
    check_logps(policy_chosen, "policy_chosen", policy_chosen);
    check_logps(policy_rejected, "policy_rejected", policy_chosen);
    check_logps(reference_chosen, "reference_chosen", policy_chosen);
    check_logps(reference_rejected, "reference_rejected", policy_chosen);
    TORCH_CHECK(std::isfinite(beta) && beta > 0, "preference_loss: beta must be > 0, got ", beta);
    const auto t = static_cast<int64_t>(type);
    TORCH_CHECK(t >= 0 && t <= 3, "preference_loss: unknown loss type code ", t);
    TORCH_CHECK(label_smoothing >= 0 && label_smoothing < 0.5,
                "preference_loss: label_smoothing must be in [0, 0.5), got ", label_smoothing);
    return PreferenceLossFunction::apply(policy_chosen, policy_rejected, reference_chosen, reference_rejected,
                                         beta, t, label_smoothing);
  });
}

}  // namespace drift
