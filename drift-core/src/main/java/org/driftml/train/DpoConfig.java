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
 * @param maxGradNorm    clip the global gradient norm to this (<= 0 disables clipping)
 * @param batchSize      pairs per optimiser step (micro-batch x accumulation)
 * @param accumulation   micro-batches per optimiser step
 * @param epochs         passes over the pairs
 */
public record DpoConfig(double beta, PreferenceLoss.Type loss, double labelSmoothing, double rpoAlpha,
        double learningRate, double warmupRatio, double weightDecay, double maxGradNorm, int batchSize,
        int accumulation, int epochs) {
    public DpoConfig {
        if (!(beta > 0)) {
            throw new IllegalArgumentException("beta must be > 0, got " + beta);
        }
        if (batchSize < 1 || accumulation < 1 || batchSize % accumulation != 0) {
            throw new IllegalArgumentException("batchSize (" + batchSize + ") must be a positive multiple of"
                    + " accumulation (" + accumulation + ")");
        }
        if (!(learningRate > 0) || warmupRatio < 0 || warmupRatio >= 1 || epochs < 1) {
            throw new IllegalArgumentException("need learningRate > 0, 0 <= warmupRatio < 1, epochs >= 1");
        }
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
                accumulation, epochs);
    }

    public DpoConfig withBatch(int batch, int accumulationSteps) {
        return new DpoConfig(beta, loss, labelSmoothing, rpoAlpha, learningRate, warmupRatio, weightDecay, maxGradNorm,
                batch, accumulationSteps, epochs);
    }

    public DpoConfig withEpochs(int n) {
        return new DpoConfig(beta, loss, labelSmoothing, rpoAlpha, learningRate, warmupRatio, weightDecay, maxGradNorm,
                batchSize, accumulation, n);
    }

    /** This recipe with another DPO beta and RPO weight. */
    public DpoConfig withBeta(double b, double rpo) {
        return new DpoConfig(b, loss, labelSmoothing, rpo, learningRate, warmupRatio, weightDecay, maxGradNorm,
                batchSize, accumulation, epochs);
    }

    public int microBatch() {
        return batchSize / accumulation;
    }
}
