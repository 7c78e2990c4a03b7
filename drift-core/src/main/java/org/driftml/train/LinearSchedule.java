package org.driftml.train;

/**
 * transformers' get_linear_schedule_with_warmup, written out (LibTorch's Java API has no LinearLR): the rate rises
 * linearly from 0 over ceil(warmupRatio x total) steps, then falls linearly to 0 at the last step.
 */
public record LinearSchedule(double peak, int totalSteps, int warmupSteps) {
    public static LinearSchedule of(double peak, int totalSteps, double warmupRatio) {
        return new LinearSchedule(peak, totalSteps, (int) Math.ceil(totalSteps * warmupRatio));
    }

    /** The learning rate of step {@code step} (0-based), as HF's LambdaLR applies it. */
    public double at(int step) {
        if (step < warmupSteps) {
            return peak * step / Math.max(1, warmupSteps);
        }
        return peak * Math.max(0.0, (double) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    }
}
