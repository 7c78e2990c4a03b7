package org.driftml.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The fake accelerator behaves as a device: its own tensors, same-device checks, counted host reads, autograd. */
@Tag("testdevice")
class TestDeviceTest {
    static Device device;

    @BeforeAll
    static void install() {
        device = TestDevice.install();
    }

    static Tensor on(Tensor t) {
        return t.to(device, t.scalar_type());
    }

    @Test
    void itsTensorsAreNotOnTheCpuAndComputeWhatTheCpuComputes() {
        try (StepScope scope = StepScope.open()) {
            torch.manual_seed(1);
            Tensor a = torch.randn(new long[] {5, 7}), b = torch.randn(new long[] {7, 3});
            Tensor da = on(a), db = on(b);
            assertFalse(da.is_cpu());
            assertTrue(da.device().str().getString().startsWith("testdevice"), da.device().str().getString());
            Tensor product = da.matmul(db).softmax(-1).narrow(1, 1, 2).t().contiguous();
            assertFalse(product.is_cpu(), "results stay on the device");
            assertTrue(torch.equal(product.cpu(), a.matmul(b).softmax(-1).narrow(1, 1, 2).t().contiguous()),
                    "the same CPU kernels run: bitwise equal");
            Tensor made = torch.arange(new Scalar(6), new TensorOptions(ScalarType.Long).device(new org.bytedeco.pytorch.DeviceOptional(device)));
            assertFalse(made.is_cpu(), "factories honour the device");
            assertEquals(15, made.sum().item_long());
        }
    }

    /** The failure the device exists to catch: a CPU tensor meeting a device tensor in one op. */
    @Test
    void aCpuTensorInADeviceComputationFails() {
        try (StepScope scope = StepScope.open()) {
            Tensor onDevice = on(torch.ones(new long[] {4}));
            Tensor onCpu = torch.ones(new long[] {4});
            RuntimeException e = assertThrows(RuntimeException.class, () -> onDevice.add(onCpu));
            assertTrue(e.getMessage().contains("Expected all tensors to be on the same device"), e.getMessage());
            // A CPU scalar is allowed, as on CUDA.
            assertEquals(8.0, onDevice.mul(torch.scalar_tensor(new Scalar(2.0))).sum().item_double());
        }
    }

    @Test
    void hostReadsAreCountedButTheFallbacksOwnCopiesAreNot() {
        try (StepScope scope = StepScope.open()) {
            Tensor x = on(torch.randn(new long[] {64, 64}));
            TestDevice.resetHostReads();
            Tensor y = x.matmul(x).relu().sum(new long[] {1}).exp();  // several ops, each through the CPU fallback
            assertEquals(0, TestDevice.hostReads(), "computing on the device reads nothing back");
            y.sum().item_double();
            assertEquals(1, TestDevice.hostReads(), "item() is one read");
            y.cpu();
            assertEquals(2, TestDevice.hostReads(), "a copy to the CPU is one read");
        }
    }

    @Test
    void autogradRunsOnTheDevice() {
        try (StepScope scope = StepScope.open()) {
            Tensor w = on(torch.randn(new long[] {3, 3})).requires_grad_(true);
            Tensor loss = w.mul(w).sum();
            loss.backward();
            assertFalse(w.grad().is_cpu(), "the gradient lives on the device");
            assertTrue(torch.allclose(w.grad().cpu(), w.detach().cpu().mul(new Scalar(2.0))));
        }
    }
}
