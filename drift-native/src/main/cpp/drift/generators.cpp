#include "generators.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include "errors.h"

namespace drift {

at::Generator seeded_generator(const c10::Device& device, int64_t seed) {
  return translate_errors([&] {
    if (device.is_cpu()) {
      return at::detail::createCPUGenerator(static_cast<uint64_t>(seed));
    }
    // CUDA's and PrivateUse1's hooks each make a generator of their device.
    at::Generator g = at::globalContext().getAcceleratorHooksInterface(device.type()).getNewGenerator(device.index());
    g.set_current_seed(static_cast<uint64_t>(seed));
    return g;
  });
}

}  // namespace drift
