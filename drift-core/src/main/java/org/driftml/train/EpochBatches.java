package org.driftml.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

/** The data order of a DPO run: each epoch's batches, a function of the seed and the epoch alone. */
final class EpochBatches {
    private EpochBatches() {}

    /**
     * Batches for one epoch, drawn from the seed and the epoch (every run with the same seed sees the same batches):
     * a new shuffle each epoch, grouped so that a batch holds pairs of similar lengths (little padding).
     */
    static List<List<Integer>> of(List<PairTokenizer.TokenizedPair> pairs, int epoch, long seed, int batchSize) {
        // Each epoch draws new batches, as TRL's shuffled sampler does, grouped by length the way transformers'
        // group_by_length does it, in smaller groups: the epoch's shuffled order is cut into runs of 4 batches, each
        // run sorted by length and cut into its batches, and the batches shuffled. (transformers' runs of 50
        // batches would sort a DRIFT iteration's few thousand pairs as one run: the same batches every epoch, which
        // is what drift did before.) Padding still falls: similar lengths meet within each run.
        Random random = new Random(seed * 1_000_003L + epoch);
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < pairs.size(); i++) {
            order.add(i);
        }
        Collections.shuffle(order, random);
        int mega = 4 * batchSize;
        List<List<Integer>> batches = new ArrayList<>();
        for (int from = 0; from < order.size(); from += mega) {
            List<Integer> group = new ArrayList<>(order.subList(from, Math.min(order.size(), from + mega)));
            group.sort(Comparator.comparingInt(i -> length(pairs.get(i))));
            for (int start = 0; start < group.size(); start += batchSize) {
                batches.add(List.copyOf(group.subList(start, Math.min(group.size(), start + batchSize))));
            }
        }
        Collections.shuffle(batches, random);
        return batches;
    }

    private static int length(PairTokenizer.TokenizedPair p) {
        return p.prompt().length + Math.max(p.chosen().length, p.rejected().length);
    }
}
