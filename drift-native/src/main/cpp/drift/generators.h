// Random generators of a device. Sampling draws its noise where the logits are: a CPU generator on a GPU would send
// every token's [N, V] exponentials across the bus.
#pragma once

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

namespace drift {

// A new generator of `device` (its own state, not the device's default), seeded with `seed`. On the CPU it is the
// generator torch.Generator().manual_seed(seed) makes, so a seed gives transformers' CPU draws.
at::Generator seeded_generator(const c10::Device& device, int64_t seed);

}  // namespace drift
