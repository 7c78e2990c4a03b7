package org.driftml.model.spec;

import java.util.Locale;

/**
 * The two dtypes of training: the one weights are kept (and updated) in, and the one forward and backward run in.
 *
 * <p>DRIFT's recipe trains in bf16. Its learning rate (5e-7, or 1e-5 at most in practice) gives updates far below
 * bf16's resolution (2^-8 relative: a weight of 0.02 moves only by steps of about 1e-4), so bf16 weights updated in
 * place stop learning: measured here, pure-bf16 weights did not move at lr 1e-5 while fp32 master weights with
 * bf16 compute kept learning. Hence {@link #BF16}: fp32 master weights, a bf16 copy for compute.
 */
public enum Precision {
    /** fp32 weights and fp32 compute: exact, and the reference for parity tests. */
    FP32,
    /** fp32 master weights, bf16 compute (forward, backward and activations); the default for training. */
    BF16;

    /** The {@code --dtype} setting: the compute dtype over fp32 masters, as HF configs and TRL flags spell it. */
    public static final org.driftml.settings.Setting<Precision> DTYPE = org.driftml.settings.Setting.parsed("dtype",
            Precision.class, "compute dtype over fp32 master weights", "float32|bfloat16", Precision::parse,
            p -> p == BF16 ? "bfloat16" : "float32", FP32, "drift's CPU default: float32 (the paper: bfloat16)");

    /** True when compute runs on a lower-precision copy of the master weights. */
    public boolean mixed() {
        return this == BF16;
    }

    /** Parses {@code fp32}/{@code float32} and {@code bf16}/{@code bfloat16}, as HF configs and TRL flags spell them. */
    public static Precision parse(String name) {
        switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "fp32": case "float32": case "float":
                return FP32;
            case "bf16": case "bfloat16":
                return BF16;
            default:
                throw new IllegalArgumentException("unknown precision '" + name + "': expected float32 or bfloat16"
                        + " (pure bf16 weights are not offered: updates at DRIFT's learning rates fall below bf16"
                        + " resolution)");
        }
    }
}
