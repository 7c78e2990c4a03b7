package org.driftml.train;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How ZeRO splits the trained weights over the ranks. The weights, in order, fall into buckets: the consecutive
 * weights of one decoder layer, or consecutive weights outside the layers (the embedding; the final norm and
 * lm-head). Each bucket is one flat run of elements, cut into as many equal slices as there are ranks (the last
 * padded), and rank r holds the optimiser state of slice r of every bucket. Per layer, so that stage 2 can
 * reduce-scatter a layer's gradients as soon as the checkpointed backward has finished that layer; equal slices,
 * so that every rank holds 1/N of the state whatever the layer sizes (a weight may be cut between ranks).
 *
 * <p>What a rank holds of a bucket is a list of {@link Piece}s: the parts of weights inside its slice.
 */
final class ShardLayout {
    private static final Pattern LAYER = Pattern.compile("^model\\.layers\\.(\\d+)\\.");

    /**
     * Elements {@code [weightOffset, weightOffset + length)} of weight {@code weight} (flattened), at
     * {@code sliceOffset} in this rank's slice of its bucket.
     */
    record Piece(int weight, long weightOffset, long sliceOffset, long length) {}

    /**
     * Weights {@code weights} (indices into the layout's names) of decoder layer {@code layer} (-1: outside the
     * layers), weight i at {@code starts[i]} in the bucket's {@code length} elements, each rank's slice {@code slice}
     * elements, and this rank's {@code pieces}.
     */
    record Bucket(int layer, List<Integer> weights, long[] starts, long length, long slice, List<Piece> pieces) {
        long padded(int worldSize) {
            return slice * worldSize;
        }
    }

    private final List<Bucket> buckets = new ArrayList<>();
    private final int worldSize;
    private final List<Integer> reduceOrder;

    /**
     * The layout of weights named {@code names} with {@code numels} elements each, for rank {@code rank} of
     * {@code worldSize}.
     */
    ShardLayout(List<String> names, long[] numels, int rank, int worldSize) {
        this.worldSize = worldSize;
        int from = 0;
        for (int i = 1; i <= names.size(); i++) {
            if (i == names.size() || layerOf(names.get(i)) != layerOf(names.get(from))) {
                buckets.add(bucket(layerOf(names.get(from)), from, i, numels, rank, worldSize));
                from = i;
            }
        }
        List<Integer> order = new ArrayList<>();
        for (int b = 0; b < buckets.size(); b++) {
            order.add(b);
        }
        order.sort(Comparator.comparingInt((Integer b) -> buckets.get(b).layer() < 0 ? 1 : 0)
                .thenComparing(b -> -buckets.get(b).layer())
                .thenComparing(b -> -b));
        this.reduceOrder = List.copyOf(order);
    }

    private static Bucket bucket(int layer, int from, int to, long[] numels, int rank, int worldSize) {
        List<Integer> weights = new ArrayList<>();
        long[] starts = new long[to - from];
        long length = 0;
        for (int i = from; i < to; i++) {
            weights.add(i);
            starts[i - from] = length;
            length += numels[i];
        }
        long slice = (length + worldSize - 1) / worldSize;
        long mineFrom = rank * slice, mineTo = Math.min(length, mineFrom + slice);
        List<Piece> pieces = new ArrayList<>();
        for (int k = 0; k < weights.size(); k++) {
            long a = Math.max(mineFrom, starts[k]), b = Math.min(mineTo, starts[k] + numels[weights.get(k)]);
            if (a < b) {
                pieces.add(new Piece(weights.get(k), a - starts[k], a - mineFrom, b - a));
            }
        }
        return new Bucket(layer, List.copyOf(weights), starts, length, slice, List.copyOf(pieces));
    }

    /** The decoder layer a weight belongs to, by its Hugging Face name; -1 outside the layers. */
    static int layerOf(String name) {
        Matcher m = LAYER.matcher(name);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    List<Bucket> buckets() {
        return buckets;
    }

    int worldSize() {
        return worldSize;
    }

    /**
     * The order every rank reduces the buckets in, which must be one order for the collectives to pair up: the
     * layers last to first (the order the checkpointed backward finishes them), then the buckets outside the layers
     * last to first (complete only when the whole backward is: the tied embedding's gradient comes last).
     */
    List<Integer> reduceOrder() {
        return reduceOrder;
    }
}
