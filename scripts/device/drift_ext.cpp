// A Python module over drift-native's ops, built only by cuda-check.sh: the device machines that hold a GPU have
// Python torch and nvcc but no JDK, so the CUDA paths of the C++ core are checked from Python against ATen there.
#include <torch/extension.h>

#include "preference_loss.h"
#include "rmsprop_step.h"
#include "sequence_logps.h"

PYBIND11_MODULE(drift_ext, m) {
  m.def("preference_loss", [](const at::Tensor& pc, const at::Tensor& pr, const at::Tensor& rc, const at::Tensor& rr,
                              double beta, int64_t type, double label_smoothing) {
    return drift::preference_loss(pc, pr, rc, rr, beta, static_cast<drift::PreferenceLossType>(type), label_smoothing);
  });
  // Two overloads share the name in C++: the mask one here (the scored positions are derived on the device).
  m.def("sequence_logps", [](const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                             const at::Tensor& mask, int64_t row_block, int64_t vocab_block) {
    return drift::sequence_logps(hidden, weight, targets, mask, row_block, vocab_block);
  });
  m.def("sequence_logps_and_lse", &drift::sequence_logps_and_lse);
  m.def("sequence_logps_weight_grad", &drift::sequence_logps_weight_grad);
  m.def("rmsprop_step", &drift::rmsprop_step);
}
