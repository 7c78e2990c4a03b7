package org.driftml.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * One RMSprop update of a weight over its fp32 master in a single pass (drift-native's rmsprop_step.h): g = scale
 * grad + wd m; v = alpha v + (1 - alpha) g^2; m -= lr g / (sqrt(v) + eps); w = m, rounded when w is bf16. The same
 * arithmetic as the ATen sequence torch's RMSprop runs, in one read of grad, m and v instead of about nine passes.
 */
public final class RmspropStep {
    private RmspropStep() {}

    /**
     * Updates {@code master} and {@code squareAvg} in place and refreshes {@code weight} (an fp32 weight is its own
     * master: pass it twice). Errors name the tensor and what was expected.
     */
    public static void apply(Tensor weight, Tensor grad, Tensor master, Tensor squareAvg, double lr, double scale,
            double alpha, double eps, double weightDecay) {
        DriftNative.rmsprop_step(weight, grad, master, squareAvg, lr, scale, alpha, eps, weightDecay);
    }
}
