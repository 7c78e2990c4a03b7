package org.driftml.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.model.internal.Decoder;

/**
 * The update a DPO step ends with: RMSprop over fp32 masters, held whole by this process ({@link
 * MasterWeightRmsprop}: one process, or every rank of a replicated data-parallel run) or sharded across the ranks
 * ({@link ShardedRmsprop}: ZeRO stages 1 and 2). Data parallelism lives here, not in the step: the step tells the
 * optimiser when its backward has finished a layer, a micro-batch and all of them, and the optimiser sums its
 * gradients across the ranks as its sharding needs. In one process those calls do nothing.
 */
interface Optimizer extends AutoCloseable {
    /** The backward has finished decoder layer {@code layer} in a micro-batch ({@code last}: this rank's last). */
    void layerDone(int layer, boolean last);

    /** A micro-batch's backward is done. */
    void microBatchDone();

    /**
     * This rank's backward passes of the step are done: {@code mine} micro-batches, where the busiest rank ran
     * {@code most}. Starts summing what the backward did not start, in one order on every rank; the step's metrics
     * are summed across the ranks after this, before {@link #gradientsSummed}.
     */
    void backwardsDone(int mine, int most);

    /** Waits until every gradient is summed across the ranks; returns the seconds this rank spent on it. */
    double gradientsSummed();

    /** The global L2 norm of the gradients, before clipping (torch's clip_grad_norm_). */
    double gradNorm();

    /** Clips to {@code maxGradNorm} (if > 0), updates at {@code lr}, clears the gradients. */
    void step(double lr, double maxGradNorm, double gradNorm);

    /** The last step's wait in ZeRO's all-gather of the updated weights, in seconds (NaN: none, not sharded). */
    double gatherSeconds();

    /** Bytes of state this process holds beyond the weights (squared averages, the masters' residuals). */
    long stateBytes();

    /** Bytes of gradients this process holds at the update. */
    long gradientBytes();

    /** Checkpoint {@code step} into {@code output}; {@code writes}: this rank writes the model folder. */
    void checkpoint(Path output, int step, Decoder policy, long seed, boolean writes) throws IOException;

    /** Restores checkpoint {@code from}; returns the step to continue from. */
    int restore(TrainingCheckpoint.Restored from) throws IOException;

    /** Writes the trained model into {@code to}: the masters rounded to {@code dtype}, and the tokenizer's files. */
    void saveModel(Decoder policy, Path to, ScalarType dtype, Path tokenizerFrom) throws IOException;

    @Override
    void close();
}
