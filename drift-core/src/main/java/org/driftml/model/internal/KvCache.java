package org.driftml.model.internal;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.model.spec.ModelConfig;

/**
 * Keys and values of every layer for the positions decoded so far, preallocated to the longest sequence a
 * generation can reach so that each step writes one slice instead of concatenating (which would copy the whole
 * cache at every token). Keys are stored after rotary embedding, per key/value head (before GQA expansion).
 *
 * <p>A continuously batched sampler keeps one row per slot and works on views of them ({@link #fresh}, {@link
 * #level}, {@link #ragged}): a prefill writes new rows from position 0, a decoding step writes each row's token at that row's own
 * length.
 */
public final class KvCache {
    final Tensor[] keys;
    final Tensor[] values;
    private final long capacity;
    private long length;
    private final Tensor writeAt;  // ragged views: [N, kvHeads, 1, headDim], each row's own length; else null

    /** On {@code device}, in {@code dtype} (the model's). */
    public KvCache(ModelConfig config, long batch, long capacity, ScalarType dtype, Device device) {
        this.capacity = capacity;
        this.keys = new Tensor[config.numHiddenLayers()];
        this.values = new Tensor[config.numHiddenLayers()];
        long[] shape = {batch, config.numKeyValueHeads(), capacity, config.headDim()};
        for (int l = 0; l < keys.length; l++) {
            keys[l] = torch.empty(shape, Tensorsj.options(dtype, device), new MemoryFormatOptional());
            values[l] = torch.empty(shape, Tensorsj.options(dtype, device), new MemoryFormatOptional());
        }
        this.writeAt = null;
    }

    /**
     * A cache of {@code slots} rows for a continuously batched sampler, zeroed: positions past a row's length are
     * masked out, and a masked key or value must still be finite (SDPA adds -inf to a masked score, and NaN + -inf
     * is NaN; a zero attention weight times a NaN value is NaN).
     */
    public static KvCache slots(ModelConfig config, long slots, long capacity, ScalarType dtype, Device device) {
        KvCache cache = new KvCache(config, slots, capacity, dtype, device);
        for (int l = 0; l < cache.keys.length; l++) {
            cache.keys[l].zero_();
            cache.values[l].zero_();
        }
        return cache;
    }

    private KvCache(Tensor[] keys, Tensor[] values, long capacity, long length, Tensor writeAt) {
        this.keys = keys;
        this.values = values;
        this.capacity = capacity;
        this.length = length;
        this.writeAt = writeAt;
    }

    /** Rows [start, start + count) as an empty cache sharing this one's memory: a prefill of new sequences. */
    public KvCache fresh(long start, long count) {
        return new KvCache(rows(keys, start, count), rows(values, start, count), capacity, 0, null);
    }

    /**
     * Rows [0, count) as a cache whose rows all hold {@code length} positions: a decoding step where every
     * sequence is as long as the others (one alone, say), which then runs exactly as the static batch of {@code Sampler}.
     */
    public KvCache level(long count, long length) {
        return new KvCache(rows(keys, 0, count), rows(values, 0, count), capacity, length, null);
    }

    /**
     * Rows [0, count) holding different lengths, for one decoding step: row i's new key goes to position
     * {@code lengths[i]}, and what {@link #append} returns reaches {@code longest + 1} positions (the caller masks
     * each row's keys past its own length).
     *
     * @param lengths [count] int64 on this cache's device
     */
    public KvCache ragged(long count, Tensor lengths, long longest) {
        long kvHeads = keys[0].size(1), d = keys[0].size(3);
        Tensor at = lengths.view(count, 1, 1, 1).expand(count, kvHeads, 1, d).contiguous();
        return new KvCache(rows(keys, 0, count), rows(values, 0, count), capacity, longest, at);
    }

    /** Moves row {@code from}'s first {@code positions} keys and values to row {@code to} (a freed slot refilled). */
    public void moveRow(long from, long to, long positions) {
        for (int l = 0; l < keys.length; l++) {
            keys[l].select(0, to).narrow(1, 0, positions).copy_(keys[l].select(0, from).narrow(1, 0, positions));
            values[l].select(0, to).narrow(1, 0, positions).copy_(values[l].select(0, from).narrow(1, 0, positions));
        }
    }

    /** Keeps the tensors beyond {@code scope} (the caller then {@link #close() closes} the cache). */
    public KvCache keptBy(org.driftml.kernels.StepScope scope) {
        for (int l = 0; l < keys.length; l++) {
            scope.keep(keys[l]);
            scope.keep(values[l]);
        }
        return this;
    }

    /** Frees the tensors now (a sampler's cache outlives any one step). */
    public void close() {
        for (int l = 0; l < keys.length; l++) {
            keys[l].close();
            values[l].close();
        }
    }

    /** Rows [start, start + count) of every layer's tensor, as views. */
    private static Tensor[] rows(Tensor[] layers, long start, long count) {
        Tensor[] out = new Tensor[layers.length];
        for (int l = 0; l < out.length; l++) {
            out[l] = layers[l].narrow(0, start, count);
        }
        return out;
    }

    /** Positions already cached. */
    public long length() {
        return length;
    }

    public long capacity() {
        return capacity;
    }

    /** Writes layer {@code l}'s new keys/values [N, kvHeads, t, d] after the cached ones; returns all [.., length+t, ..]. */
    Tensor[] append(int l, Tensor k, Tensor v) {
        long t = k.size(2);
        if (writeAt != null) {  // one new position per row, each at its own length
            if (t != 1 || length + 1 > capacity) {
                throw new IllegalStateException("a ragged step appends one position within capacity " + capacity);
            }
            keys[l].scatter_(2, writeAt, k);
            values[l].scatter_(2, writeAt, v);
            return new Tensor[] {keys[l].narrow(2, 0, length + 1), values[l].narrow(2, 0, length + 1)};
        }
        if (length + t > capacity) {
            throw new IllegalStateException("KV cache full: " + length + " + " + t + " positions > capacity " + capacity);
        }
        keys[l].narrow(2, length, t).copy_(k);
        values[l].narrow(2, length, t).copy_(v);
        return new Tensor[] {keys[l].narrow(2, 0, length + t), values[l].narrow(2, 0, length + t)};
    }

    void advance(long t) {
        length += t;
    }
}
