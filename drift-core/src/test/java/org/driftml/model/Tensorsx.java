package org.driftml.model;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Test helpers: tensors to Java arrays. */
final class Tensorsx {
    private Tensorsx() {}

    static long[] longs(Tensor t) {
        Tensor flat = t.to(ScalarType.Long).contiguous().reshape(-1);
        long[] out = new long[(int) flat.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = flat.get(i).item_long();
        }
        return out;
    }
}
