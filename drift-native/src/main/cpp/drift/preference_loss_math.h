// The per-pair math of the preference losses, shared by the CPU loop and the CUDA kernel.
//
// With z = (pi_c - pi_r) - (ref_c - ref_r), the policy's log-ratio margin over the reference
// (DRIFT Eq. 2 and DPO's implicit reward difference, before scaling by beta):
//
//   sigmoid (DPO, Rafailov et al. 2023, with cDPO label smoothing eps):
//       L = -(1-eps) log s(b z) - eps log s(-b z)
//       dL/dz = -(1-eps) b s(-b z) + eps b s(b z)
//   robust (rDPO, Chowdhury et al. 2024, unbiased under label-flip rate eps < 1/2):
//       L = ((1-eps)(-log s(b z)) + eps log s(-b z)) / (1 - 2 eps)
//       dL/dz = (-(1-eps) b s(-b z) - eps b s(b z)) / (1 - 2 eps)
//   hinge (SLiC, Zhao et al. 2023):
//       L = max(0, 1 - b z)          dL/dz = -b if b z < 1 else 0
//   ipo (Azar et al. 2023, Eq. 17, beta plays tau):
//       L = (z - 1/(2 b))^2          dL/dz = 2 (z - 1/(2 b))
//
// The rewards TRL reports are b (pi_c - ref_c) and b (pi_r - ref_r); they carry no gradient.
// log s(x) is evaluated as min(x, 0) - log1p(exp(-|x|)) so that it never overflows.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define DRIFT_HOST_DEVICE __host__ __device__
#else
#define DRIFT_HOST_DEVICE
#endif

namespace drift {

enum class PreferenceLossType : int64_t { SIGMOID = 0, IPO = 1, HINGE = 2, ROBUST = 3 };

template <typename acc_t>
DRIFT_HOST_DEVICE inline acc_t log_sigmoid(acc_t x) {
  // log s(x) = min(x, 0) - log(1 + exp(-|x|))
  acc_t neg_abs = x < acc_t(0) ? x : -x;
  acc_t lo = x < acc_t(0) ? x : acc_t(0);
  return lo - log1p(exp(neg_abs));
}

template <typename acc_t>
DRIFT_HOST_DEVICE inline acc_t sigmoid(acc_t x) {
  if (x >= acc_t(0)) {
    return acc_t(1) / (acc_t(1) + exp(-x));
  }
  acc_t e = exp(x);
  return e / (acc_t(1) + e);
}

// Writes the loss of one pair and dL/dz; returns nothing so the kernel stays branch-light.
template <typename acc_t>
DRIFT_HOST_DEVICE inline void preference_loss_pair(
    acc_t z, acc_t beta, acc_t eps, PreferenceLossType type, acc_t* loss, acc_t* dloss_dz) {
  acc_t bz = beta * z;
  switch (type) {
    case PreferenceLossType::SIGMOID:
      *loss = -(acc_t(1) - eps) * log_sigmoid(bz) - eps * log_sigmoid(-bz);
      *dloss_dz = -(acc_t(1) - eps) * beta * sigmoid(-bz) + eps * beta * sigmoid(bz);
      break;
    case PreferenceLossType::ROBUST: {
      acc_t denom = acc_t(1) - acc_t(2) * eps;
      *loss = ((acc_t(1) - eps) * -log_sigmoid(bz) + eps * log_sigmoid(-bz)) / denom;
      *dloss_dz = (-(acc_t(1) - eps) * beta * sigmoid(-bz) - eps * beta * sigmoid(bz)) / denom;
      break;
    }
    case PreferenceLossType::HINGE:
      *loss = bz < acc_t(1) ? acc_t(1) - bz : acc_t(0);
      *dloss_dz = bz < acc_t(1) ? -beta : acc_t(0);
      break;
    case PreferenceLossType::IPO: {
      acc_t d = z - acc_t(1) / (acc_t(2) * beta);
      *loss = d * d;
      *dloss_dz = acc_t(2) * d;
      break;
    }
  }
}

}  // namespace drift
