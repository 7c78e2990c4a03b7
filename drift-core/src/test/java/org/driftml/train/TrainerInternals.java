package org.driftml.train;

import java.lang.reflect.Field;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/**
 * What the engine's tests read or set inside a {@link DpoTrainer} that no caller may: its fp32 masters and whether
 * it makes the lm-head's gradient at the update. Read by reflection, so the production class carries no seam for its
 * tests; a renamed field fails here, by name.
 */
final class TrainerInternals {
    private TrainerInternals() {}

    /** The fp32 master weights (what the checkpoints hold); not under ZeRO, where the ranks share them. */
    static Map<String, Tensor> masters(DpoTrainer trainer) {
        if (!(field(trainer, "optimizer") instanceof MasterWeightRmsprop whole)) {
            throw new IllegalStateException("under ZeRO the masters are sharded");
        }
        return whole.masters();
    }

    /** Whether the lm-head's gradient is made at the update ({@link LmHeadGradient}). */
    static boolean makesLmHeadGradientAtUpdate(DpoTrainer trainer) {
        return (Boolean) field(trainer, "lmHeadMadeAtUpdate");
    }

    /** Holds the lm-head's gradient whole from the loss's backward on: what the made one is compared with. */
    static void holdLmHeadGradient(DpoTrainer trainer) {
        set(trainer, "lmHeadMadeAtUpdate", false);
    }

    private static Object field(DpoTrainer trainer, String name) {
        try {
            Field f = DpoTrainer.class.getDeclaredField(name);
            f.setAccessible(true);
            return f.get(trainer);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("DpoTrainer." + name + ": " + e, e);
        }
    }

    private static void set(DpoTrainer trainer, String name, Object value) {
        try {
            Field f = DpoTrainer.class.getDeclaredField(name);
            f.setAccessible(true);
            f.set(trainer, value);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("DpoTrainer." + name + ": " + e, e);
        }
    }
}
