package org.driftml.kernels;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * An fp32 master weight kept as two 16-bit halves (drift-native's split_master.h): the bf16 weight the model computes
 * with and a 16-bit residual, with the master's bits exactly {@code (weight << 16) + residual}. Mixed precision then
 * holds 4 bytes per parameter for weight and master instead of 6, and loses nothing of the master. The weight is the
 * master rounded to nearest with ties away from zero: a bf16 cast's rounding except at exact ties with an even
 * truncation (one weight in 2^17), where it is one bf16 ulp larger in magnitude.
 */
public final class SplitMaster {
    private SplitMaster() {}

    /** The halves of an fp32 master: {@code [weight (BFloat16), residual (Short)]}, shaped like it. */
    public static Tensor[] split(Tensor master) {
        try (TensorVector halves = DriftNative.split_master(master)) {
            // get(i) is a reference into the vector; each half is copied out as its own tensor handle.
            return new Tensor[] {new Tensor(halves.get(0)), new Tensor(halves.get(1))};
        }
    }

    /** The fp32 master whose halves are {@code weight} (BFloat16) and {@code residual} (Short). */
    public static Tensor join(Tensor weight, Tensor residual) {
        return DriftNative.join_master(weight, residual);
    }
}
