package org.driftml.train;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.StepScope;
import org.driftml.parallel.ProcessGroup;

/**
 * A replicated data-parallel run's gradients (ZeRO stage 0: every rank holds the optimiser whole), summed over the
 * ranks before each update: a decoder layer's gradient buffers as soon as the backward has finished them, the rest
 * once every micro-batch is done.
 */
final class ReplicatedGradients {
    private final List<Tensor> buffers;  // MasterWeightRmsprop's gradient buffers
    private final List<Integer> bucketLayers;  // the decoder layer of each buffer
    private final List<Tensor> handedOver;  // weights whose gradient autograd hands over
    private final ProcessGroup group;
    private final List<ProcessGroup.Pending> inFlight = new ArrayList<>();
    private final java.util.Set<Integer> started = new java.util.HashSet<>();  // buffers whose all-reduce has begun

    ReplicatedGradients(List<Tensor> buffers, List<Integer> bucketLayers, List<Tensor> handedOver,
            ProcessGroup group) {
        this.buffers = buffers;
        this.bucketLayers = bucketLayers;
        this.handedOver = handedOver;
        this.group = group;
    }

    /**
     * Starts summing decoder layer {@code layer}'s gradient buffers over the ranks, without
     * waiting: called once the last micro-batch's backward has finished that layer, so the sum overlaps the
     * backward of the layers below. {@link #sumAll} waits for it.
     */
    void layerStart(int layer) {
        for (int b = bucketLayers.size() - 1; b >= 0; b--) {
            if (bucketLayers.get(b) == layer && started.add(b)) {
                inFlight.add(group.allreduceSumStart(buffers.get(b)));
            }
        }
    }

    /**
     * Starts the all-reduce of every layer's buffers not yet started, last layer first: the order the backward's
     * {@link #layerStart} calls make, so that every rank issues the same sequence whether its backward made
     * them (its last micro-batch, checkpointed) or not (no pairs here this step, or no checkpointing).
     */
    void layersStart() {
        for (int layer : bucketLayers.stream().filter(l -> l >= 0).distinct().sorted(
                java.util.Comparator.reverseOrder()).toList()) {
            layerStart(layer);
        }
    }

    /**
     * Sums every gradient over the ranks, in place: the layers' buffers not yet started
     * ({@link #layersStart}), then the other buffers last to first, then each gradient autograd handed
     * over, then waits for all. A weight without a gradient on this rank (no pairs here this step) takes part with
     * zeros.
     */
    void sumAll() {
        NoGradGuard noGrad = new NoGradGuard();
        try {
            layersStart();
            for (int b = bucketLayers.size() - 1; b >= 0; b--) {
                if (started.add(b)) {
                    inFlight.add(group.allreduceSumStart(buffers.get(b)));
                }
            }
            for (Tensor w : handedOver) {
                if (!w.grad().defined()) {
                    try (StepScope scope = StepScope.open()) {
                        w.mutable_grad().put(torch.zeros_like(w));
                    }
                }
                inFlight.add(group.allreduceSumStart(w.grad()));
            }
            inFlight.forEach(ProcessGroup.Pending::await);
        } finally {
            inFlight.clear();
            started.clear();
            noGrad.close();
        }
    }
}
