package org.driftml.kernels;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;

/** Seeded random generators of a device (drift-native's generators.h). */
public final class Generators {
    private Generators() {}

    /**
     * A new generator of {@code device}, seeded. On the CPU its draws are those of {@code
     * torch.Generator().manual_seed(seed)}; CUDA's generator is Philox, so the same seed draws other numbers there.
     */
    public static Generator seeded(Device device, long seed) {
        return DriftNative.seeded_generator(device, seed);
    }
}
