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
 */
public final class KvCache {
    final Tensor[] keys;
    final Tensor[] values;
    private final long capacity;
    private long length;

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
