package org.driftml.train;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Tensorsj;
import org.driftml.parallel.ProcessGroup;

/**
 * How a ZeRO run's gradients reach each rank's slices ({@link ShardedRmsprop}): stage 1 keeps every gradient in a
 * padded buffer per bucket and reduce-scatters them once per optimiser step, a layer's as soon as the last
 * micro-batch's backward has finished it; stage 2 reduce-scatters each bucket after every micro-batch (under
 * activation checkpointing, after each layer) and frees its full gradients.
 */
final class ShardedGradients implements AutoCloseable {
    private final int stage;
    private final ShardLayout layout;
    private final ProcessGroup group;
    private final List<Tensor> compute;  // the trained weights, in the layout's order
    private final List<Tensor> gradSlice;  // per bucket, this rank's slice of the summed gradient (the optimiser's)
    private final GradientBuffer full;  // stage 1: every gradient, one padded buffer per bucket
    private final boolean[] reduced;  // stage 2: the buckets reduce-scattered in this micro-batch
    private long reduceNanos;  // stage 2: time in reduce-scatters during backward, since last taken
    private final List<ProcessGroup.Pending> inFlight = new ArrayList<>();  // stage 1: started reduce-scatters
    private final java.util.Set<Integer> started = new java.util.HashSet<>();

    ShardedGradients(int stage, ShardLayout layout, ProcessGroup group, List<Tensor> compute, List<Tensor> gradSlice,
            GradientBuffer full) {
        this.stage = stage;
        this.layout = layout;
        this.group = group;
        this.compute = compute;
        this.gradSlice = gradSlice;
        this.full = full;
        this.reduced = new boolean[layout.buckets().size()];
    }

    /** Bytes of the full gradients kept between backward passes (stage 1), padded. */
    long fullBytes() {
        return full == null ? 0 : full.buffers().stream().mapToLong(Tensor::nbytes).sum();
    }

    /** Stage 1's padded gradient buffer of bucket b (the update borrows it for the all-gather), else null. */
    Tensor fullBuffer(int b) {
        return full == null ? null : full.buffers().get(b);
    }

    private static Tensor zeros(long n, ScalarType dtype, Tensor like) {
        return torch.zeros(new long[] {n}, Tensorsj.options(dtype, like.device()));
    }

    /**
     * After the backward has finished decoder layer {@code layer} in a micro-batch ({@code last}: the step's last
     * here). Stage 2: reduce-scatters its buckets into this rank's slices and frees their gradients. Stage 1, in
     * the last micro-batch: starts their reduce-scatter, which runs while the layers below are recomputed.
     */
    void layerDone(int layer, boolean last) {
        if (stage == 1 && last) {
            startLayer(layer);
            return;
        }
        if (stage != 2) {
            return;
        }
        for (int b : layout.reduceOrder()) {
            if (layout.buckets().get(b).layer() == layer) {
                reduceBucket(b);
            }
        }
    }

    /** Stage 1: starts layer {@code layer}'s buckets' reduce-scatter unless started. */
    private void startLayer(int layer) {
        for (int b : layout.reduceOrder()) {
            if (layout.buckets().get(b).layer() == layer && started.add(b)) {
                inFlight.add(group.reduceScatterSumStart(gradSlice.get(b), full.buffers().get(b)));
            }
        }
    }

    /**
     * Stage 1, before the step's metrics are summed: starts every layer's reduce-scatter not started by the
     * backward, last layer first, so every rank issues one sequence whether its backward started them or not.
     */
    void layersStart() {
        if (stage != 1) {
            return;
        }
        for (int b : layout.reduceOrder()) {
            if (layout.buckets().get(b).layer() >= 0) {
                startLayer(layout.buckets().get(b).layer());
            }
        }
    }

    /**
     * Stage 2, after each micro-batch's backward, on every rank the same number of times per optimiser step (a rank
     * with fewer micro-batches calls it with no gradients, taking part with zeros): reduce-scatters the buckets not
     * yet reduced in this micro-batch, in {@link ShardLayout#reduceOrder}.
     */
    void microBatchDone() {
        if (stage != 2) {
            return;
        }
        for (int b : layout.reduceOrder()) {
            if (!reduced[b]) {
                reduceBucket(b);
            }
        }
        java.util.Arrays.fill(reduced, false);
    }

    /** Every rank as many rounds of stage 2's reduce-scatter as the busiest (with zeros), then the layers' starts. */
    void backwardsDone(int mine, int most) {
        for (int k = mine; k < most; k++) {
            microBatchDone();
        }
        layersStart();
    }

    /**
     * Once per optimiser step after every micro-batch, stage 1 reduce-scatters the gradient buffers not yet
     * started (the layers' first, then the others in {@link ShardLayout#reduceOrder}) and waits for all.
     */
    double gradientsSummed() {
        long t0 = System.nanoTime(), reduce = reduceNanos;  // stage 2: the backward's reduce-scatters, since taken
        reduceNanos = 0;
        if (stage != 1) {
            return reduce / 1e9;
        }
        NoGradGuard noGrad = new NoGradGuard();
        try {
            layersStart();
            for (int b : layout.reduceOrder()) {
                if (started.add(b)) {
                    inFlight.add(group.reduceScatterSumStart(gradSlice.get(b), full.buffers().get(b)));
                }
            }
            inFlight.forEach(ProcessGroup.Pending::await);
            return (System.nanoTime() - t0 + reduce) / 1e9;
        } finally {
            inFlight.clear();
            started.clear();
            noGrad.close();
        }
    }

    /** Packs bucket b's gradients (zeros where none), reduce-scatters them, adds this rank's slice, frees them. */
    private void reduceBucket(int b) {
        ShardLayout.Bucket bucket = layout.buckets().get(b);
        NoGradGuard noGrad = new NoGradGuard();
        try (StepScope scope = StepScope.open()) {
            Tensor packed = zeros(bucket.padded(group.worldSize()), gradSlice.get(b).scalar_type(), gradSlice.get(b));
            for (int k = 0; k < bucket.weights().size(); k++) {
                Tensor w = compute.get(bucket.weights().get(k));
                Tensor g = w.grad();
                if (g.defined()) {
                    packed.narrow(0, bucket.starts()[k], w.numel()).copy_(g.reshape(-1));
                    w.mutable_grad().reset();
                }
            }
            Tensor mine = torch.empty_like(gradSlice.get(b), new TensorOptions(), new MemoryFormatOptional());
            long t0 = System.nanoTime();
            group.reduceScatterSum(mine, packed);
            reduceNanos += System.nanoTime() - t0;
            gradSlice.get(b).add_(mine);
            reduced[b] = true;
        } finally {
            noGrad.close();
        }
    }

    @Override
    public void close() {
        if (full != null) {
            full.close();
        }
    }
}
