package org.driftml.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Tensorsj;

/**
 * The gradients of the trained weights in one flat buffer per dtype and device, allocated once: each weight's
 * gradient is a view of it, backward adds into it in place (autograd's AccumulateGrad with a gradient present), and
 * after each update it is zeroed, as torch's {@code zero_grad(set_to_none=False)}.
 *
 * <p>Why, under activation checkpointing (where {@link DpoTrainer} uses it): freed after every update and made again
 * by the next backward, the gradients (one per weight, up to 8.7 MB each at Qwen2.5-0.5B's geometry) came back at
 * other places in malloc's heap, between the step's activations, and the pages they left stayed resident: measured
 * at that geometry in bf16, 256 tokens, the peak resident set fell from 6,441-6,583 MB to 6,153-6,311 MB with the
 * same heap in use (README, "Qwen2.5-0.5B's geometry"). Without checkpointing a forward's activations are larger
 * than the gradients, and freed gradients leave them room: there the buffer is not used.
 *
 * <p>What that changes: a weight that took no part in a step has a zero gradient rather than none, so RMSprop decays
 * its square average (and weight decay moves it) where torch's default {@code set_to_none=True} would skip it. Every
 * weight of the decoders drift trains takes part in every step, so for them the two are the same.
 */
final class GradientBuffer implements AutoCloseable {
    private final List<Tensor> weights;
    private final List<Tensor> buffers = new ArrayList<>();

    /** Attaches a gradient view to each of {@code weights}, one buffer per dtype and device. */
    GradientBuffer(List<Tensor> weights) {
        this(byDtypeAndDevice(weights), null);
    }

    /**
     * One buffer per group of {@code groups} (weights of one dtype and device), of {@code lengths[i]} elements (at
     * least the group's; the rest stays zero: ZeRO pads each bucket to a multiple of the ranks), or exactly the
     * group's when {@code lengths} is null. A gradient a weight already has is copied in.
     */
    GradientBuffer(List<List<Tensor>> groups, long[] lengths) {
        List<Tensor> all = new ArrayList<>();
        groups.forEach(all::addAll);
        this.weights = List.copyOf(all);
        NoGradGuard noGrad = new NoGradGuard();
        try (StepScope scope = StepScope.open()) {
            for (int i = 0; i < groups.size(); i++) {
                List<Tensor> group = groups.get(i);
                long total = group.stream().mapToLong(Tensor::numel).sum();
                Tensor first = group.get(0);
                Tensor buffer = scope.keep(torch.zeros(new long[] {lengths == null ? total : lengths[i]},
                        Tensorsj.options(first.scalar_type(), first.device())));
                buffers.add(buffer);
                long offset = 0;
                for (Tensor w : group) {
                    try (StepScope view = StepScope.open()) {  // the view's handle: the gradient keeps its own
                        Tensor slot = buffer.narrow(0, offset, w.numel()).view(w.sizes());
                        if (w.grad().defined()) {
                            slot.copy_(w.grad());
                        }
                        w.mutable_grad().put(slot);
                    }
                    offset += w.numel();
                }
            }
        } finally {
            noGrad.close();
        }
    }

    private static List<List<Tensor>> byDtypeAndDevice(List<Tensor> weights) {
        Map<String, List<Tensor>> groups = new LinkedHashMap<>();
        try (StepScope scope = StepScope.open()) {  // the Device handles of the grouping
            for (Tensor w : weights) {
                String key = w.scalar_type().value + "@" + w.device().type().value + ":" + w.device().index();
                groups.computeIfAbsent(key, k -> new ArrayList<>()).add(w);
            }
        }
        return new ArrayList<>(groups.values());
    }

    /** The flat buffers (one per group), for collectives over many gradients at once. */
    List<Tensor> buffers() {
        return buffers;
    }

    /** Zeroes every gradient (one pass per buffer): the next backward adds into them. */
    void zero() {
        buffers.forEach(Tensor::zero_);
    }

    /** Detaches the gradients from the weights and frees the buffers. */
    @Override
    public void close() {
        weights.forEach(w -> w.mutable_grad().reset());
        buffers.forEach(Tensor::close);
        buffers.clear();
    }
}
