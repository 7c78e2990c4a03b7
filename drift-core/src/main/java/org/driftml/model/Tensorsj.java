package org.driftml.model;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;

/** Copies between Java arrays and CPU tensors. */
public final class Tensorsj {
    private Tensorsj() {}

    public static Tensor fromLongs(long[] values) {
        try (LongPointer p = new LongPointer(values)) {
            return torch.from_blob(p, new long[] {values.length}, new TensorOptions(ScalarType.Long)).clone();
        }
    }

    public static long[] longs(Tensor t) {
        try (StepScope scope = StepScope.open()) {  // the converted copy and its handles
            Tensor c = t.to(ScalarType.Long).contiguous().cpu();
            long[] out = new long[(int) c.numel()];
            new LongPointer(c.data_ptr()).capacity(out.length).get(out);
            return out;
        }
    }

    public static float[] floats(Tensor t) {
        try (StepScope scope = StepScope.open()) {
            Tensor c = t.to(ScalarType.Float).contiguous().cpu();
            float[] out = new float[(int) c.numel()];
            new FloatPointer(c.data_ptr()).capacity(out.length).get(out);
            return out;
        }
    }
}
