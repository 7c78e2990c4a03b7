package org.driftml.cli;

import java.io.PrintWriter;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.Policy;
import picocli.CommandLine.Option;

/** {@code --device}, shared by every command that loads a model. */
final class DeviceOption {
    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|cuda|cuda:N",
            description = {"Where the model, its reference and every tensor made for them live (default: cpu).",
                    "cuda needs the GPU build (-Pgpu); testdevice is drift-native's fake accelerator for tests"})
    String device;

    /**
     * The parsed device, checked against this build and host (and the test device registered, before any backward).
     *
     * @throws IllegalArgumentException naming the option when the spelling is unknown
     * @throws IllegalStateException when CUDA is asked for and not available
     */
    ComputeDevice resolve() {
        ComputeDevice d;
        try {
            d = ComputeDevice.parse(device);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--device: " + e.getMessage());
        }
        Policy.checkDevice(d);
        return d;
    }

    /**
     * The device of one worker of a multi-process run: {@code --device cuda} without an index binds each worker to
     * {@code cuda:LOCAL_RANK}, as torchrun's workers do; any other device as given.
     */
    ComputeDevice forWorker(ComputeDevice resolved, org.driftml.parallel.WorldEnv world) {
        if (world.worldSize() == 1 || resolved.kind() != ComputeDevice.Kind.CUDA || device.contains(":")) {
            return resolved;
        }
        ComputeDevice bound = new ComputeDevice(ComputeDevice.Kind.CUDA, world.localRank());
        Policy.checkDevice(bound);
        return bound;
    }

    /** As {@link #resolve()}, or null after telling {@code err} why, prefixed with {@code command}: exit 2. */
    ComputeDevice resolve(PrintWriter err, String command) {
        try {
            return resolve();
        } catch (IllegalArgumentException | IllegalStateException e) {
            err.println(command + ": " + e.getMessage());
            err.flush();
            return null;
        }
    }
}
