package org.driftml.train;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.SequenceLogps;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Tensorsj;

/**
 * The lm-head's gradient for one optimiser step, held as what makes it instead of as a [V, D] tensor: per
 * micro-batch the scored hidden states, their log-sum-exps and dL/dlogps (a few MB), and for a tied embedding the
 * rows its backward adds. {@link #rows} makes any range of the gradient on demand, bit for bit the tensor autograd
 * would have accumulated: each micro-batch's logits part (SequenceLogps.weightGradRows), added in the order
 * autograd adds them, and the embedding's rows added as {@code index_add_} adds them.
 *
 * <p>Why: under activation checkpointing a step's peak is the optimiser state and every gradient at once, which
 * clipping needs before any update. The lm-head's is the largest gradient (vocab 151,936 x 896 in bf16: 260 MB at
 * Qwen2.5-0.5B's geometry, 1.1 GB at 7B's 3,584), and it lived from the loss's backward to the update, across every
 * layer's recomputation. Made a range at a time, once for the norm and once for the update, it costs two more
 * sweeps of the vocabulary and never exists whole.
 */
final class LmHeadGradient implements AutoCloseable {
    private sealed interface Part permits Logits, EmbeddingRows {}

    private record Logits(Tensor hidden, Tensor targets, Tensor mask, Tensor scored, Tensor lse, Tensor gradLogps)
            implements Part {}

    private record EmbeddingRows(Tensor ids, Tensor rows) implements Part {}

    private final Tensor weight;
    private final List<Part> parts = new ArrayList<>();
    private final List<Tensor> owned = new ArrayList<>();

    /** For the lm-head {@code weight} [V, D] (the compute weight the forward read). */
    LmHeadGradient(Tensor weight) {
        this.weight = weight;
    }

    /**
     * Adds one micro-batch's logits part: the arguments and lse of {@link SequenceLogps#computeWithLse} and
     * {@code gradLogps} [N], dL/dlogps. Keeps its own references to them.
     */
    void addLogits(Tensor hidden, Tensor targets, Tensor mask, Tensor scored, Tensor lse, Tensor gradLogps) {
        parts.add(new Logits(own(hidden), own(targets), own(mask), own(scored), own(lse), own(gradLogps)));
    }

    /**
     * Adds a tied embedding's backward: row (n, t) of {@code rows} [N, T, D] goes to the row of token
     * {@code ids[n, t]}.
     */
    void addEmbeddingRows(Tensor ids, Tensor rows) {
        try (StepScope scope = StepScope.open()) {
            Tensor flat = rows.reshape(-1, weight.size(1)).to(weight.scalar_type());
            parts.add(new EmbeddingRows(own(ids.reshape(-1)), own(flat)));
        }
    }

    /** Whether anything was added this step. */
    boolean isEmpty() {
        return parts.isEmpty();
    }

    /** The vocabulary size V. */
    long vocab() {
        return weight.size(0);
    }

    /** The hidden size D. */
    long width() {
        return weight.size(1);
    }

    /** An uninitialised flat tensor of {@code n} elements in the weight's dtype and device, in the caller's scope. */
    Tensor emptyElements(long n) {
        return torch.empty(new long[] {n}, Tensorsj.options(weight.scalar_type(), weight.device()),
                new MemoryFormatOptional());
    }

    /**
     * The rows of one range of {@link #rows}: four vocabulary tiles (16,384 rows, 29 MB in bf16 at Qwen2.5-0.5B's
     * geometry); every range but the last must start and end on a tile.
     */
    long rangeRows() {
        return SequenceLogps.weightGradRowAlignment(weight.size(0)) * 4;
    }

    /** Rows {@code [start, start + count)} of the gradient [count, D], in the weight's dtype, in the caller's scope. */
    Tensor rows(long start, long count) {
        Tensor out = null;
        for (Part part : parts) {
            if (part instanceof Logits p) {
                Tensor r = SequenceLogps.weightGradRows(p.hidden(), weight, p.targets(), p.mask(), p.scored(), p.lse(),
                        p.gradLogps(), start, count);
                out = out == null ? r : out.add_(r);  // AccumulateGrad's grad += new_grad
            } else if (part instanceof EmbeddingRows e) {
                if (out == null) {
                    out = zeroRows(count);
                }
                // The embedding's rows that fall in the range, in their order: index_add_ adds rows one by one.
                Tensor inside = e.ids().ge(new Scalar(start)).logical_and(e.ids().lt(new Scalar(start + count)))
                        .nonzero().squeeze(1);
                if (inside.numel() > 0) {
                    out.index_add_(0, e.ids().index_select(0, inside).sub(new Scalar(start)),
                            e.rows().index_select(0, inside));
                }
            }
        }
        return out != null ? out : zeroRows(count);
    }

    private Tensor zeroRows(long count) {
        return torch.zeros(new long[] {count, weight.size(1)}, Tensorsj.options(weight.scalar_type(), weight.device()));
    }

    /** Frees what the parts hold. */
    @Override
    public void close() {
        owned.forEach(Tensor::close);
        owned.clear();
        parts.clear();
    }

    private Tensor own(Tensor t) {
        Tensor handle;
        try (StepScope scope = StepScope.open()) {
            handle = scope.keep(t.detach());
        }
        owned.add(handle);
        return handle;
    }

    /**
     * The norm of a gradient made a range at a time, reduced exactly as {@link MasterWeightRmsprop#norm(Tensor)} reduces the whole
     * tensor: cut at the same {@value MasterWeightRmsprop#NORM_CHUNK}-element boundaries, so the partial norms and their norm are the
     * same bits. A chunk inside a range is reduced where it lies; one that spans two ranges is gathered first.
     */
    Tensor norm() {
        LmHeadGradient gradient = this;
        long rows = vocab(), width = width(), step = rangeRows(), NORM_CHUNK = MasterWeightRmsprop.NORM_CHUNK;
        try (StepScope scope = StepScope.open()) {
            if (rows * width <= NORM_CHUNK) {
                return scope.handBack(MasterWeightRmsprop.fp32Norm(gradient.rows(0, rows)));
            }
            Tensor carry = gradient.emptyElements(NORM_CHUNK);  // the chunk begun in an earlier range
            long carried = 0;
            org.bytedeco.pytorch.TensorVector parts = new org.bytedeco.pytorch.TensorVector();  // holds its own references to the partial norms
            for (long start = 0; start < rows; start += step) {
                try (StepScope range = StepScope.open()) {
                    Tensor flat = gradient.rows(start, Math.min(step, rows - start)).reshape(-1);
                    long length = flat.numel(), at = 0;
                    if (carried > 0) {
                        long take = Math.min(NORM_CHUNK - carried, length);
                        carry.narrow(0, carried, take).copy_(flat.narrow(0, 0, take));
                        carried += take;
                        at = take;
                        if (carried < NORM_CHUNK) {
                            continue;
                        }
                        parts.push_back(MasterWeightRmsprop.fp32Norm(carry));
                        carried = 0;
                    }
                    for (; length - at >= NORM_CHUNK; at += NORM_CHUNK) {
                        parts.push_back(MasterWeightRmsprop.fp32Norm(flat.narrow(0, at, NORM_CHUNK)));
                    }
                    if (at < length) {
                        carry.narrow(0, 0, length - at).copy_(flat.narrow(0, at, length - at));
                        carried = length - at;
                    }
                }
            }
            if (carried > 0) {
                parts.push_back(MasterWeightRmsprop.fp32Norm(carry.narrow(0, 0, carried)));
            }
            return scope.handBack(torch.linalg_vector_norm(torch.stack(parts)));
        }
    }
}
