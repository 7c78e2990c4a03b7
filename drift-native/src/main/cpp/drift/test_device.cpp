#include "test_device.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/EmptyTensor.h>
#include <ATen/detail/PrivateUse1HooksInterface.h>
#include <ATen/native/CPUFallback.h>
#include <ATen/native/DispatchStub.h>
#include <ATen/native/transformers/attention.h>
#include <ATen/ops/_fused_sdp_choice_native.h>
#include <ATen/ops/_local_scalar_dense_native.h>
#include <ATen/ops/_reshape_alias_native.h>
#include <ATen/ops/as_strided_cpu_dispatch.h>
#include <ATen/ops/copy_native.h>
#include <ATen/ops/resize_native.h>
#include <ATen/ops/set_native.h>
#include <ATen/ops/view_native.h>
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/core/impl/FakeGuardImpl.h>
#include <c10/core/impl/alloc_cpu.h>
#include <torch/library.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <sstream>
#include <unordered_set>

#include "errors.h"

namespace drift {

namespace {

constexpr c10::DeviceType kTestDevice = c10::DeviceType::PrivateUse1;

std::atomic<int64_t> host_reads{0};
thread_local int fallback_depth = 0;  // > 0 while the fallback moves tensors for an op: not drift's reads

struct FallbackScope {
  FallbackScope() { fallback_depth++; }
  ~FallbackScope() { fallback_depth--; }
};

void count_host_read() {
  if (fallback_depth == 0) host_reads++;
}

// Host memory, handed out as the test device's: the CPU allocator's pointers under the device's name.
struct TestDeviceAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t nbytes) override {
    c10::DataPtr cpu = c10::GetDefaultCPUAllocator()->allocate(nbytes);
    void* data = cpu.get();
    c10::DeleterFnPtr deleter = cpu.get_deleter();
    void* context = cpu.release_context();
    return {data, context, deleter, c10::Device(kTestDevice, 0)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return c10::GetDefaultCPUAllocator()->raw_deleter(); }
  void copy_data(void* dest, const void* src, std::size_t count) const final { default_copy_data(dest, src, count); }
};

TestDeviceAllocator allocator;

// Page-locked host memory, as a GPU's staging buffers: plain host memory here, remembered so that is_pinned()
// answers and counted so that a test sees a load go through it.
std::mutex pinned_mutex;
std::unordered_set<const void*> pinned_blocks;
std::atomic<int64_t> pinned_allocations{0};

void free_pinned(void* data) {
  {
    std::lock_guard<std::mutex> lock(pinned_mutex);
    pinned_blocks.erase(data);
  }
  c10::free_cpu(data);
}

struct PinnedAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t nbytes) override {
    void* data = nbytes == 0 ? nullptr : c10::alloc_cpu(nbytes);
    if (data != nullptr) {
      std::lock_guard<std::mutex> lock(pinned_mutex);
      pinned_blocks.insert(data);
    }
    pinned_allocations++;
    return {data, data, &free_pinned, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &free_pinned; }
  void copy_data(void* dest, const void* src, std::size_t count) const final { default_copy_data(dest, src, count); }
};

PinnedAllocator pinned_allocator;

// What ATen asks of an accelerator outside its ops (seeding, generators, the autograd engine's device threads). One
// device; its random numbers come from the CPU's generators, since its ops run on the CPU kernels: a seeded run on
// the test device draws exactly what the same run draws on the CPU.
struct TestDeviceHooks final : at::PrivateUse1HooksInterface {
  bool isBuilt() const override { return true; }
  bool isAvailable() const override { return true; }
  bool hasPrimaryContext(c10::DeviceIndex) const override { return true; }
  void init() const override {}
  c10::DeviceIndex deviceCount() const override { return 1; }
  void setCurrentDevice(c10::DeviceIndex) const override {}
  c10::DeviceIndex getCurrentDevice() const override { return 0; }
  c10::DeviceIndex exchangeDevice(c10::DeviceIndex) const override { return 0; }
  c10::DeviceIndex maybeExchangeDevice(c10::DeviceIndex) const override { return 0; }
  const at::Generator& getDefaultGenerator(c10::DeviceIndex) const override {
    return at::detail::getDefaultCPUGenerator();
  }
  at::Generator getNewGenerator(c10::DeviceIndex) const override { return at::detail::createCPUGenerator(); }
  at::Device getDeviceFromPtr(void*) const override { return c10::Device(kTestDevice, 0); }
  at::Allocator* getPinnedMemoryAllocator() const override { return &pinned_allocator; }
  bool isPinnedPtr(const void* data) const override {
    std::lock_guard<std::mutex> lock(pinned_mutex);
    return pinned_blocks.count(data) > 0;
  }
};

// A CPU tensor over a test-device tensor's memory (same sizes, strides and offset): how the device's own kernels
// reach its data. Never handed back to callers.
at::Tensor as_cpu(const at::Tensor& t) {
  return at::from_blob(t.data_ptr(), t.sizes(), t.strides(), t.options().device(at::kCPU));
}

at::Tensor empty_memory_format(c10::IntArrayRef size, std::optional<c10::ScalarType> dtype,
                               std::optional<c10::Layout> layout, std::optional<c10::Device> device,
                               std::optional<bool> pin_memory, std::optional<c10::MemoryFormat> memory_format) {
  TORCH_CHECK(c10::layout_or_default(layout) == c10::Layout::Strided, "testdevice: strided tensors only");
  TORCH_CHECK(!c10::pinned_memory_or_default(pin_memory), "testdevice: pinned memory is a CPU property");
  return at::detail::empty_generic(size, &allocator, c10::DispatchKeySet(c10::DispatchKey::PrivateUse1),
                                   c10::dtype_or_default(dtype), memory_format);
}

at::Tensor empty_strided(c10::IntArrayRef size, c10::IntArrayRef stride, std::optional<c10::ScalarType> dtype,
                         std::optional<c10::Layout> layout, std::optional<c10::Device> device,
                         std::optional<bool> pin_memory) {
  TORCH_CHECK(c10::layout_or_default(layout) == c10::Layout::Strided, "testdevice: strided tensors only");
  return at::detail::empty_strided_generic(size, stride, &allocator,
                                           c10::DispatchKeySet(c10::DispatchKey::PrivateUse1),
                                           c10::dtype_or_default(dtype));
}

at::Tensor copy_from(const at::Tensor& self, const at::Tensor& dst, bool non_blocking) {
  at::Tensor dst_cpu = dst.device().type() == kTestDevice ? as_cpu(dst) : dst;
  const at::Tensor src_cpu = self.device().type() == kTestDevice ? as_cpu(self) : self;
  if (self.device().type() == kTestDevice && dst.is_cpu()) count_host_read();
  at::native::copy_(dst_cpu, src_cpu, non_blocking);
  return dst;
}

at::Tensor copy_from_and_resize(const at::Tensor& self, const at::Tensor& dst) {
  at::native::resize_(dst, self.sizes(), std::nullopt);
  return copy_from(self, dst, false);
}

at::Scalar local_scalar_dense(const at::Tensor& self) {
  count_host_read();
  return at::native::_local_scalar_dense_cpu(as_cpu(self));
}

at::Tensor as_strided(const at::Tensor& self, c10::SymIntArrayRef size, c10::SymIntArrayRef stride,
                      std::optional<c10::SymInt> storage_offset) {
  return at::cpu::as_strided_symint(self, size, stride, storage_offset);
}

const at::Tensor& resize(const at::Tensor& self, c10::SymIntArrayRef size, std::optional<at::MemoryFormat> format) {
  return at::native::resize_(self, C10_AS_INTARRAYREF_SLOW(size), format);
}

at::Tensor reshape_alias(const at::Tensor& self, c10::SymIntArrayRef size, c10::SymIntArrayRef stride) {
  return at::native::_reshape_alias(self, C10_AS_INTARRAYREF_SLOW(size), C10_AS_INTARRAYREF_SLOW(stride));
}

at::Tensor view(const at::Tensor& self, c10::SymIntArrayRef size) {
  return at::native::view(self, C10_AS_INTARRAYREF_SLOW(size));
}

at::Tensor& set_source_tensor(at::Tensor& self, const at::Tensor& source) {
  return at::native::set_tensor_(self, source);
}

at::Tensor& set_source_storage(at::Tensor& self, at::Storage source) { return at::native::set_(self, source); }

at::Tensor& set_source_storage_offset(at::Tensor& self, at::Storage source, int64_t offset, c10::IntArrayRef size,
                                      c10::IntArrayRef stride) {
  return at::native::set_storage_cpu_(self, source, offset, size, stride);
}

// What CUDA refuses, the test device refuses: an op whose tensors sit on different devices. CPU scalars (0-dim
// tensors) are allowed, as on CUDA. Without this check the fallback would copy every argument to the CPU and the
// mistake would pass unseen.
void check_one_device(const c10::OperatorHandle& op, const torch::jit::Stack& args) {
  auto complain = [&](const at::Tensor& t) {
    if (!t.defined() || t.device().type() == kTestDevice || (t.is_cpu() && t.dim() == 0)) return;
    std::ostringstream msg;
    msg << "Expected all tensors to be on the same device, but found at least two devices, "
        << c10::Device(kTestDevice, 0) << " and " << t.device() << "! (in " << op.schema().operator_name() << ")";
    TORCH_CHECK(false, msg.str());
  };
  for (const c10::IValue& v : args) {
    if (v.isTensor()) {
      complain(v.toTensor());
    } else if (v.isTensorList()) {
      for (const at::Tensor& t : v.toTensorVector()) complain(t);
    } else if (v.isOptionalTensorList()) {
      for (const std::optional<at::Tensor>& t : v.toOptionalTensorVector()) {
        if (t.has_value()) complain(*t);
      }
    }
  }
}

// Ops whose result's shape depends on the data: on a GPU each waits for the device (CUDA's nonzero copies the count
// back to size its output), so each counts as a host read.
bool shaped_by_data(const c10::OperatorHandle& op) {
  const std::string& name = op.schema().name();
  return name == "aten::nonzero" || name == "aten::masked_select" || name == "aten::_unique2" ||
         name == "aten::unique_dim" || name == "aten::unique_consecutive";
}

void fallback(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  const size_t n = op.schema().arguments().size();
  check_one_device(op, torch::jit::Stack(stack->end() - static_cast<std::ptrdiff_t>(n), stack->end()));
  if (shaped_by_data(op)) count_host_read();
  FallbackScope scope;
  at::native::cpu_fallback(op, stack);
}

// SDPA picks its kernel through a DispatchStub, not the dispatcher, so the fallback never sees the choice and a
// device without a stub gets the math kernel. The test device makes the CPU's choice (flash attention), whose op then
// runs through the fallback: attention computes exactly what it computes on the CPU, as a GPU runs its own fused one.
int64_t sdp_choice(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                   const std::optional<at::Tensor>& mask, double dropout, bool causal, std::optional<double> scale,
                   bool gqa) {
  return at::native::_fused_sdp_choice_cpp(query, key, value, mask, dropout, causal, scale, gqa);
}

}  // namespace

bool install_test_device() {
  static std::once_flag once;
  std::call_once(once, [] {
    c10::register_privateuse1_backend("testdevice");
    c10::SetAllocator(kTestDevice, &allocator);
    at::RegisterPrivateUse1HooksInterface(new TestDeviceHooks());
    at::native::_fused_sdp_choice_stub.set_privateuse1_dispatch_ptr(&sdp_choice);
    static c10::impl::DeviceGuardImplRegistrar guard(kTestDevice, new c10::impl::FakeGuardImpl<kTestDevice>());
    static torch::Library impls(torch::Library::IMPL, "aten", c10::DispatchKey::PrivateUse1, __FILE__, __LINE__);
    impls.impl("empty.memory_format", TORCH_FN(empty_memory_format));
    impls.impl("empty_strided", TORCH_FN(empty_strided));
    impls.impl("_copy_from", TORCH_FN(copy_from));
    impls.impl("_copy_from_and_resize", TORCH_FN(copy_from_and_resize));
    impls.impl("_local_scalar_dense", TORCH_FN(local_scalar_dense));
    impls.impl("as_strided", TORCH_FN(as_strided));
    impls.impl("resize_", TORCH_FN(resize));
    impls.impl("_reshape_alias", TORCH_FN(reshape_alias));
    impls.impl("view", TORCH_FN(view));
    impls.impl("set_.source_Tensor", TORCH_FN(set_source_tensor));
    impls.impl("set_.source_Storage", TORCH_FN(set_source_storage));
    impls.impl("set_.source_Storage_storage_offset", TORCH_FN(set_source_storage_offset));
    static torch::Library everything(torch::Library::IMPL, "_", c10::DispatchKey::PrivateUse1, __FILE__, __LINE__);
    everything.fallback(torch::CppFunction::makeFromBoxedFunction<&fallback>());
  });
  return true;
}

int64_t test_device_host_reads() { return host_reads.load(); }

int64_t test_device_pinned_allocations() { return pinned_allocations.load(); }

void reset_test_device_host_reads() { host_reads = 0; }

}  // namespace drift
