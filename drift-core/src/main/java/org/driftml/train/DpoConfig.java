package org.driftml.train;

import org.driftml.kernels.PreferenceLoss;

/**
 * The DPO hyper-parameters, with the paper's recipe as presets (the released DRIFT configs: RMSprop, lr 5e-7, linear
 * schedule with warmup ratio 0.1, beta 0.1, batch 4, rpo_alpha 0.001, 3 epochs for the warm start, 1 per iteration).
 *
 * @param beta           KL strength of Eq. 2 (0.1)
 * @param loss           sigmoid (DPO), ipo, hinge or robust
 * @param labelSmoothing cDPO / robust label-noise rate in [0, 0.5)
 * @param rpoAlpha       weight of the chosen responses' NLL added to the loss (TRL's rpo_alpha; 0 disables it)
 * @param learningRate   peak learning rate of the linear schedule
 * @param warmupRatio    share of steps spent warming up linearly from 0
 * @param weightDecay    RMSprop weight decay
 * @param maxGradNorm    clip the global gradient norm to this (&lt;= 0 disables clipping)
 * @param batchSize      pairs per optimiser step (micro-batch x accumulation)
 * @param accumulation   micro-batches per optimiser step
 * @param epochs         passes over the pairs
 * @param gradientCheckpointing keep only each layer's input in the forward and recompute the layer in the backward
 *                       (TRL's gradient_checkpointing; the released DRIFT configs turn it on): activation memory
 *                       of one layer instead of all, for one more forward of compute. Off in the presets.
 */
public record DpoConfig(double beta, PreferenceLoss.Type loss, double labelSmoothing, double rpoAlpha,
        double learningRate, double warmupRatio, double weightDecay, double maxGradNorm, int batchSize,
        int accumulation, int epochs, boolean gradientCheckpointing) {
    public DpoConfig {
        // Every value checked before anything loads: NaN passes "x > 0" tests written the other way round, and a NaN
        // or infinite setting trains to NaN weights only after the model has loaded and the reference has scored.
        require(Double.isFinite(beta) && beta > 0, "beta", "a finite number > 0", beta);
        require(loss != null, "loss", "sigmoid, ipo, hinge or robust", loss);
        require(labelSmoothing >= 0 && labelSmoothing < 0.5, "labelSmoothing", "in [0, 0.5)", labelSmoothing);
        require(Double.isFinite(rpoAlpha) && rpoAlpha >= 0, "rpoAlpha", "a finite number >= 0", rpoAlpha);
        require(Double.isFinite(learningRate) && learningRate > 0, "learningRate", "a finite number > 0",
                learningRate);
        require(warmupRatio >= 0 && warmupRatio < 1, "warmupRatio", "in [0, 1)", warmupRatio);
        require(Double.isFinite(weightDecay) && weightDecay >= 0, "weightDecay", "a finite number >= 0", weightDecay);
        require(!Double.isNaN(maxGradNorm) && maxGradNorm != Double.POSITIVE_INFINITY, "maxGradNorm",
                "a finite number (<= 0 turns clipping off)", maxGradNorm);
        require(batchSize >= 1, "batchSize", "at least 1", batchSize);
        require(accumulation >= 1 && batchSize % accumulation == 0, "accumulation",
                "at least 1 and a divisor of batchSize (" + batchSize + ")", accumulation);
        require(epochs >= 1, "epochs", "at least 1", epochs);
    }

    private static void require(boolean ok, String field, String expected, Object got) {
        if (!ok) {
            throw new IllegalArgumentException(field + " must be " + expected + ", got " + got);
        }
    }

    /** Every setting under TRL's name, in a fixed order: what a run's record (run.json) holds. */
    public java.util.Map<String, Object> settings() {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("beta", beta);
        m.put("loss", loss.name());
        m.put("label_smoothing", labelSmoothing);
        m.put("rpo_alpha", rpoAlpha);
        m.put("learning_rate", learningRate);
        m.put("warmup_ratio", warmupRatio);
        m.put("weight_decay", weightDecay);
        m.put("max_grad_norm", maxGradNorm);
        m.put("batch_size", batchSize);
        m.put("accumulation", accumulation);
        m.put("epochs", epochs);
        m.put("gradient_checkpointing", gradientCheckpointing);
        return m;
    }

    /** As the canonical constructor, without gradient checkpointing. */
    public DpoConfig(double beta, PreferenceLoss.Type loss, double labelSmoothing, double rpoAlpha,
            double learningRate, double warmupRatio, double weightDecay, double maxGradNorm, int batchSize,
            int accumulation, int epochs) {
        this(beta, loss, labelSmoothing, rpoAlpha, learningRate, warmupRatio, weightDecay, maxGradNorm, batchSize,
                accumulation, epochs, false);
    }

    /** DRIFT's warm start on the seed (DSAT -> SAT) pairs: 3 epochs. */
    public static DpoConfig warmStart() {
        return new DpoConfig(0.1, PreferenceLoss.Type.SIGMOID, 0.0, 0.001, 5e-7, 0.1, 0.0, 1.0, 4, 1, 3);
    }

    /** One DRIFT iteration on freshly built pairs: 1 epoch. */
    public static DpoConfig iteration() {
        return new DpoConfig(0.1, PreferenceLoss.Type.SIGMOID, 0.0, 0.001, 5e-7, 0.1, 0.0, 1.0, 4, 1, 1);
    }

    public DpoConfig withLearningRate(double lr) {
        return new DpoConfig(beta, loss, labelSmoothing, rpoAlpha, lr, warmupRatio, weightDecay, maxGradNorm, batchSize,
                accumulation, epochs, gradientCheckpointing);
    }

    public DpoConfig withBatch(int batch, int accumulationSteps) {
        return new DpoConfig(beta, loss, labelSmoothing, rpoAlpha, learningRate, warmupRatio, weightDecay, maxGradNorm,
                batch, accumulationSteps, epochs, gradientCheckpointing);
    }

    public DpoConfig withEpochs(int n) {
        return new DpoConfig(beta, loss, labelSmoothing, rpoAlpha, learningRate, warmupRatio, weightDecay, maxGradNorm,
                batchSize, accumulation, n, gradientCheckpointing);
    }

    /** This recipe with another DPO beta and RPO weight. */
    public DpoConfig withBeta(double b, double rpo) {
        return new DpoConfig(b, loss, labelSmoothing, rpo, learningRate, warmupRatio, weightDecay, maxGradNorm,
                batchSize, accumulation, epochs, gradientCheckpointing);
    }

    /** This recipe with activation checkpointing on or off. */
    public DpoConfig withGradientCheckpointing(boolean on) {
        return new DpoConfig(beta, loss, labelSmoothing, rpoAlpha, learningRate, warmupRatio, weightDecay, maxGradNorm,
                batchSize, accumulation, epochs, on);
    }

    public int microBatch() {
        return batchSize / accumulation;
    }
}
