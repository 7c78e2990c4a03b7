// Sends each RMSprop loop to the build vector_isa.h chose.
#include "rmsprop_kernels.h"

#include "vector_isa.h"

namespace drift {

#define DRIFT_RMSPROP_BUILD(ISA)                                                                               \
  namespace ISA {                                                                                              \
  void rmsprop_fp32(float*, const float*, float*, int64_t, const RmspropArgs&);                                \
  void rmsprop_bf16(c10::BFloat16*, const c10::BFloat16*, float*, float*, int64_t, const RmspropArgs&);        \
  void rmsprop_split(uint16_t*, const c10::BFloat16*, int16_t*, float*, int64_t, const RmspropArgs&);          \
  }
DRIFT_RMSPROP_BUILD(AVX512)
DRIFT_RMSPROP_BUILD(AVX2)
DRIFT_RMSPROP_BUILD(DEFAULT)
#undef DRIFT_RMSPROP_BUILD

void rmsprop_fp32(float* m, const float* grad, float* v, int64_t n, const RmspropArgs& a) {
  DRIFT_VECTOR_DISPATCH(rmsprop_fp32(m, grad, v, n, a))
}

void rmsprop_bf16(c10::BFloat16* w, const c10::BFloat16* grad, float* m, float* v, int64_t n, const RmspropArgs& a) {
  DRIFT_VECTOR_DISPATCH(rmsprop_bf16(w, grad, m, v, n, a))
}

void rmsprop_split(uint16_t* w, const c10::BFloat16* grad, int16_t* r, float* v, int64_t n, const RmspropArgs& a) {
  DRIFT_VECTOR_DISPATCH(rmsprop_split(w, grad, r, v, n, a))
}

}  // namespace drift
