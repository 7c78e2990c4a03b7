package org.driftml.kernels;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * Summed log-probs of each sequence's completion, computed from the decoder's final hidden states and the lm-head
 * weight without materialising full-vocabulary logits.
 *
 * <p>For Qwen2 (V = 151,936) the logits of a batch of 8 x 2048 tokens are 10 GB in fp32; this op keeps one tile of
 * {@code rowBlock x vocabBlock} fp32 values instead, and skips prompt and padding positions entirely. Backward
 * recomputes each tile. Math and tiling: sequence_logps.cpp.
 */
public final class SequenceLogps {
    /** Default scored tokens per tile: one row block covers a typical batch, so dW is written once per step. */
    public static final long DEFAULT_ROW_BLOCK = 4096;
    /** Default vocabulary entries per tile: 4096 x 4096 fp32 = 64 MiB of logits at most. */
    public static final long DEFAULT_VOCAB_BLOCK = 4096;

    /** {@code logps} [N] (fp32; fp64 for fp64 inputs) is differentiable; {@code tokenCounts} [N] int64 is not. */
    public record Output(Tensor logps, Tensor tokenCounts) {}

    private SequenceLogps() {}

    /**
     * The path bf16 tile GEMMs take now: AMX or AVX512_BF16 (oneDNN's brgemm with bf16 operands) or WIDEN (promoted to
     * fp32 on sgemm); DRIFT_BF16_GEMM chooses one the CPU has (bf16_tile_gemms.h).
     */
    public static String bf16GemmPath() {
        return DriftNative.bf16_gemm_path_name().getString();
    }

    /** The best bf16 GEMM path this CPU and ONEDNN_MAX_CPU_ISA allow. */
    public static String bf16GemmBestPath() {
        return DriftNative.bf16_gemm_best_path_name().getString();
    }

    /**
     * Runs bf16 tile GEMMs on {@code path} (AMX, AVX512_BF16 or WIDEN) from now on; false, and no change, when this CPU
     * lacks it. For tests and benchmarks that compare the paths in one process.
     */
    public static boolean useBf16GemmPath(String path) {
        return DriftNative.set_bf16_gemm_path(path);
    }

    /**
     * @param hidden  [N, T, D] final hidden states (after the last norm), fp32 / bf16 / fp16 / fp64
     * @param weight  [V, D] lm-head weight, same dtype as hidden
     * @param targets [N, T] integer ids; hidden[n, t] predicts targets[n, t] (ids shifted left by one)
     * @param mask    [N, T] bool or numeric; non-zero marks a completion token to score
     * @throws RuntimeException naming the offending tensor, or the (sequence, position) of an out-of-range target
     */
    public static Output compute(Tensor hidden, Tensor weight, Tensor targets, Tensor mask) {
        return compute(hidden, weight, targets, mask, DEFAULT_ROW_BLOCK, DEFAULT_VOCAB_BLOCK);
    }

    /**
     * As {@link #compute(Tensor, Tensor, Tensor, Tensor)} with the scored positions given: {@code scored} [M] lists
     * the flat positions n * T + t where mask is set, in increasing order (checked on the CPU). Off the CPU the op
     * then never waits for the device, which finding them would (nonzero's count comes back to the host).
     */
    public static Output compute(Tensor hidden, Tensor weight, Tensor targets, Tensor mask, Tensor scored) {
        try (TensorVector out = DriftNative.sequence_logps(hidden, weight, targets, mask, scored, DEFAULT_ROW_BLOCK,
                DEFAULT_VOCAB_BLOCK)) {
            return new Output(new Tensor(out.get(0)), new Tensor(out.get(1)));
        }
    }

    /**
     * {@link Output} and {@code lse} [M]: the log-sum-exp of each scored position's logits (fp32, not
     * differentiable), which {@link #weightGradRows} needs to recompute the lm-head's gradient a range at a time.
     */
    public record Scores(Tensor logps, Tensor tokenCounts, Tensor lse) {}

    /** As {@link #compute(Tensor, Tensor, Tensor, Tensor, Tensor)}, keeping each scored position's lse. */
    public static Scores computeWithLse(Tensor hidden, Tensor weight, Tensor targets, Tensor mask, Tensor scored) {
        return computeWithLse(hidden, weight, targets, mask, scored, DEFAULT_ROW_BLOCK, DEFAULT_VOCAB_BLOCK);
    }

    static Scores computeWithLse(Tensor hidden, Tensor weight, Tensor targets, Tensor mask, Tensor scored,
            long rowBlock, long vocabBlock) {
        try (TensorVector out = DriftNative.sequence_logps_and_lse(hidden, weight, targets, mask, scored, rowBlock,
                vocabBlock)) {
            return new Scores(new Tensor(out.get(0)), new Tensor(out.get(1)), new Tensor(out.get(2)));
        }
    }

    /**
     * Rows {@code [start, start + rows)} of the gradient that backward gives {@code weight} for {@code gradLogps}
     * [N] = dL/dlogps, bit for bit, in the weight's dtype, from the inputs and lse of {@link #computeWithLse}: an
     * optimiser can then update a [V, D] lm-head a range at a time instead of holding its whole gradient (at vocab
     * 151,936 and D 896, 260 MB in bf16). {@code start} is a multiple of {@link #weightGradRowAlignment}, and so is
     * {@code rows} unless the range ends at V.
     */
    public static Tensor weightGradRows(Tensor hidden, Tensor weight, Tensor targets, Tensor mask, Tensor scored,
            Tensor lse, Tensor gradLogps, long start, long rows) {
        return weightGradRows(hidden, weight, targets, mask, scored, lse, gradLogps, DEFAULT_ROW_BLOCK,
                DEFAULT_VOCAB_BLOCK, start, rows);
    }

    static Tensor weightGradRows(Tensor hidden, Tensor weight, Tensor targets, Tensor mask, Tensor scored, Tensor lse,
            Tensor gradLogps, long rowBlock, long vocabBlock, long start, long rows) {
        return DriftNative.sequence_logps_weight_grad(hidden, weight, targets, mask, scored, lse, gradLogps, rowBlock,
                vocabBlock, start, rows);
    }

    /** The vocabulary tile a range of {@link #weightGradRows} starts on, for a vocabulary of {@code vocab}. */
    public static long weightGradRowAlignment(long vocab) {
        return Math.max(1, Math.min(DEFAULT_VOCAB_BLOCK, vocab));
    }

    /** As {@link #compute(Tensor, Tensor, Tensor, Tensor)} with explicit tile sizes (memory = rowBlock*vocabBlock*4 B). */
    public static Output compute(Tensor hidden, Tensor weight, Tensor targets, Tensor mask, long rowBlock,
            long vocabBlock) {
        try (TensorVector out = DriftNative.sequence_logps(hidden, weight, targets, mask, rowBlock, vocabBlock)) {
            // get(i) is a reference into the vector; each output is copied out as its own tensor handle.
            return new Output(new Tensor(out.get(0)), new Tensor(out.get(1)));
        }
    }
}
