// A fake accelerator for tests: PyTorch's PrivateUse1 backend, registered under the name "testdevice", whose memory
// is host memory and whose ops run on the CPU through ATen's CPU fallback, as PyTorch's own open-registration tests
// do. Its tensors report device testdevice:0, so code that means to put everything on one device but leaves a CPU
// tensor behind fails here exactly as it would on CUDA: "Expected all tensors to be on the same device". CI has no GPU;
// this is how drift's Java path is held to one device there.
//
// It also counts host reads: copies from the device to the CPU, scalar reads (item()) and ops whose output's shape
// depends on the data (nonzero, masked_select, unique) that drift itself asks for, not the fallback's own traffic. On
// a GPU each of them is a synchronisation.
#pragma once

#include <cstdint>

namespace drift {

// Registers the backend, once per process (later calls do nothing). Returns true.
bool install_test_device();

// Device-to-host copies and scalar reads since the last reset, the fallback's own excluded.
int64_t test_device_host_reads();

void reset_test_device_host_reads();

// Blocks of pinned host memory handed out so far (the device's staging buffers for host-to-device copies).
int64_t test_device_pinned_allocations();

}  // namespace drift
