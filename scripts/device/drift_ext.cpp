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
  m.def("sequence_logps", &drift::sequence_logps);
  m.def("rmsprop_step", &drift::rmsprop_step);
}
