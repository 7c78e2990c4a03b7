package org.driftml.model.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.TestDevice;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;

/**
 * drift's API types as LibTorch's: a {@link ComputeDevice} as a {@link Device}, a {@link Precision} as dtypes. Kept
 * here so that the API's own signatures carry no bytedeco type.
 */
public final class Torch {
    private Torch() {}

    /**
     * The LibTorch device, after checking that this build and host can use it. The test device is registered here if
     * it is not yet: call this before the process's first backward (the CLI does, when it parses options).
     *
     * @throws IllegalStateException when CUDA is asked for and this build or host has none, or not that many devices
     */
    public static Device device(ComputeDevice d) {
        NativeRuntime.load();
        if (d.kind() == ComputeDevice.Kind.CPU) {
            return new Device("cpu");
        }
        if (d.kind() == ComputeDevice.Kind.TEST) {
            return TestDevice.install();
        }
        if (!torch.cuda_is_available()) {
            throw new IllegalStateException("device " + d + " requested but CUDA is not available: build with"
                    + " -Pgpu (LibTorch GPU natives) on a host with a CUDA 13 driver");
        }
        int count = torch.cuda_device_count();
        if (d.index() >= count) {
            throw new IllegalStateException("device " + d + " requested but only " + count + " CUDA device(s)");
        }
        return new Device(d.toString());
    }

    /** The dtype weights are stored and updated in: fp32 for both precisions. */
    public static ScalarType masterDtype(Precision p) {
        return ScalarType.Float;
    }

    /** The dtype forward and backward run in. */
    public static ScalarType computeDtype(Precision p) {
        return p == Precision.BF16 ? ScalarType.BFloat16 : ScalarType.Float;
    }

    /**
     * The dtype a model folder's config.json declares for its weights ({@code dtype}, or transformers 4's
     * {@code torch_dtype}): bfloat16 or float16 when it says so, float32 otherwise. A final model is saved in it.
     */
    public static ScalarType declaredDtype(Path folder) throws IOException {
        JsonNode c = new ObjectMapper().readTree(folder.resolve("config.json").toFile());
        String d = c.hasNonNull("dtype") ? c.get("dtype").asText() : c.path("torch_dtype").asText("float32");
        return switch (d) {
            case "bfloat16" -> ScalarType.BFloat16;
            case "float16" -> ScalarType.Half;
            default -> ScalarType.Float;
        };
    }
}
