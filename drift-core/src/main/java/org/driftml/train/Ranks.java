package org.driftml.train;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.model.internal.Tensorsj;
import org.driftml.parallel.ProcessGroup;

/** What a data-parallel DPO step shares out and sums across the ranks, beside the gradients (the optimiser's). */
final class Ranks {
    private Ranks() {}

    /**
     * This rank's share of a global batch, every world-size-th pair from its place (DistributedSampler's order);
     * each micro-batch still weighs by its share of the global batch, so the all-reduced sum is the batch's mean.
     */
    static List<Integer> shareOf(ProcessGroup group, List<Integer> batch) {
        List<Integer> mine = new ArrayList<>();
        for (int i = group.rank(); i < batch.size(); i += group.worldSize()) {
            mine.add(batch.get(i));
        }
        return mine;
    }

    /** The micro-batches of the busiest rank (rank 0's share, ceil(G / N) pairs) in a batch of {@code global}. */
    static int mostMicroBatches(ProcessGroup group, int global, int micro) {
        return ((global + group.worldSize() - 1) / group.worldSize() + micro - 1) / micro;
    }

    /**
     * The step's metrics and token counts summed over the ranks in one all-reduce (counts are exact in fp64): the
     * metrics, then the real and padded token counts. A rank without pairs in this batch ({@code sums} null) takes
     * part with zeros.
     */
    static Tensor sumMetrics(ProcessGroup group, Tensor sums, long real, long padded, Device device) {
        Tensor metrics = sums != null ? sums : torch.zeros(new long[] {DpoLoss.METRICS.size()},
                Tensorsj.options(ScalarType.Double, device));
        Tensor all = torch.cat(new TensorVector(metrics, Tensorsj.fromLongs(new long[] {real, padded}, device)
                .to(ScalarType.Double)));
        group.allreduceSum(all);
        return all;
    }

    /** Every rank must resume from the same step, or the collectives would pair up wrongly. */
    static void requireSameStart(ProcessGroup group, int start, Path output, Device device) {
        Tensor starts = Tensorsj.fromLongs(new long[] {start, (long) start * start}, device);
        group.allreduceSum(starts);
        long[] sum = Tensorsj.longs(starts);
        if (sum[0] * sum[0] != sum[1] * group.worldSize()) {  // equal starts: (N s)^2 = N (N s^2)
            throw new IllegalStateException("rank " + group.rank() + ": the ranks would resume from different"
                    + " steps (this one from " + start + "); is " + output + " the same folder for every rank?");
        }
    }
}
