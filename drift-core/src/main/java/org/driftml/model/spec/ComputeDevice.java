package org.driftml.model.spec;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.driftml.kernels.TestDevice;

/**
 * Where the policy, the reference and their tensors live: the CPU (default) or one CUDA device.
 *
 * <p>Spelled as users write it for PyTorch: {@code cpu}, {@code cuda}, {@code cuda:1}. CUDA needs the {@code gpu}
 * Maven profile (LibTorch's GPU natives); asking for it on a CPU build is an error that says so. {@code testdevice}
 * is drift-native's fake accelerator ({@link TestDevice}): host memory under a device's name, so that CI, which has no
 * GPU, runs the whole product on a device that refuses CPU tensors and counts host reads. (Its LibTorch device, with
 * the check that this build and host can use it, is {@code org.driftml.model.internal.Torch.device}.)
 */
public record ComputeDevice(Kind kind, int index) {
    public enum Kind { CPU, CUDA, TEST }

    private static final Pattern SPEC = Pattern.compile("(cpu|cuda|" + TestDevice.NAME + ")(?::(\\d+))?");

    public static final ComputeDevice CPU = new ComputeDevice(Kind.CPU, -1);
    public static final ComputeDevice TEST = new ComputeDevice(Kind.TEST, 0);

    public ComputeDevice {
        if (kind == Kind.CPU && index != -1) {
            throw new IllegalArgumentException("the CPU device takes no index, got cpu:" + index);
        }
        if (kind == Kind.TEST && index != 0) {
            throw new IllegalArgumentException("the test device has one index, 0, got " + index);
        }
        if (kind == Kind.CUDA && index < 0) {
            throw new IllegalArgumentException("a CUDA device index must be >= 0, got " + index);
        }
    }

    /** Parses {@code cpu}, {@code cuda} (device 0), {@code cuda:N} or {@code testdevice}. */
    public static ComputeDevice parse(String spec) {
        Matcher m = SPEC.matcher(spec.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException("unknown device '" + spec + "': expected cpu, cuda or cuda:N");
        }
        if (m.group(1).equals(TestDevice.NAME)) {
            if (m.group(2) != null && !m.group(2).equals("0")) {
                throw new IllegalArgumentException("unknown device '" + spec + "': the test device has only index 0");
            }
            return TEST;
        }
        if (m.group(1).equals("cpu")) {
            if (m.group(2) != null) {
                throw new IllegalArgumentException("unknown device '" + spec + "': the CPU takes no index");
            }
            return CPU;
        }
        return new ComputeDevice(Kind.CUDA, m.group(2) == null ? 0 : Integer.parseInt(m.group(2)));
    }

    @Override
    public String toString() {
        return switch (kind) {
            case CPU -> "cpu";
            case CUDA -> "cuda:" + index;
            case TEST -> TestDevice.NAME + ":0";
        };
    }
}
