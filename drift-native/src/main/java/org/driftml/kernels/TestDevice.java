package org.driftml.kernels;

import org.bytedeco.pytorch.Device;

/**
 * A fake accelerator for tests (drift-native's test_device.h): PyTorch's PrivateUse1 backend under the name
 * {@code testdevice}, with host memory and every op run on the CPU through ATen's CPU fallback. Its tensors report
 * {@code testdevice:0}, so a CPU tensor left in a computation meant for one device fails as it would on CUDA
 * ("Expected all tensors to be on the same device"), in CI, where there is no GPU.
 *
 * <p>It also counts host reads: device-to-host copies and scalar reads that the caller asks for (the fallback's own
 * copies excluded). On a GPU each one waits for the device.
 */
public final class TestDevice {
    /** The device string, for {@code --device} and {@code new Device(...)}. */
    public static final String NAME = "testdevice";

    /**
     * The system property ({@code -Ddrift.testdevice=true}) that installs the device when LibTorch loads: it must
     * be registered before the process's first backward, and the test suites set it for that reason.
     */
    public static final String PROPERTY = "drift.testdevice";

    private TestDevice() {}

    /**
     * Registers the backend in this process (once; later calls do nothing) and returns its device 0. Call it before
     * any backward runs, or start the JVM with {@link #PROPERTY} set.
     */
    public static Device install() {
        NativeRuntime.load();
        DriftNative.install_test_device();
        return new Device(NAME + ":0");
    }

    /** Device-to-host copies and scalar reads since the last {@link #resetHostReads()}. */
    public static long hostReads() {
        return DriftNative.test_device_host_reads();
    }

    public static void resetHostReads() {
        DriftNative.reset_test_device_host_reads();
    }

    /** Blocks of pinned host memory allocated so far: the staging a host-to-device load goes through. */
    public static long pinnedAllocations() {
        return DriftNative.test_device_pinned_allocations();
    }
}
