package org.driftml.model.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.NativeRuntime;
import org.driftml.model.internal.Torch;
import org.junit.jupiter.api.Test;
import org.driftml.model.spec.Precision;

class PrecisionTest {
    @Test
    void parsesTheSpellingsOfHfAndTrl() {
        assertEquals(Precision.BF16, Precision.parse("bfloat16"));
        assertEquals(Precision.BF16, Precision.parse("BF16"));
        assertEquals(Precision.FP32, Precision.parse("float32"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Precision.parse("fp8"));
        assertTrue(e.getMessage().contains("unknown precision 'fp8'"));
    }

    @Test
    void bf16TrainsOnFp32MasterWeights() {
        assertTrue(Precision.BF16.mixed());
        assertEquals(ScalarType.Float.toString(), Torch.masterDtype(Precision.BF16).toString());
        assertEquals(ScalarType.BFloat16.toString(), Torch.computeDtype(Precision.BF16).toString());
        assertFalse(Precision.FP32.mixed());
    }

    /** The measured fact the master weights exist for: an update at DRIFT's scale vanishes in bf16 weights. */
    @Test
    void anUpdateBelowBf16ResolutionIsLostInBf16WeightsButKeptInFp32Masters() {
        NativeRuntime.load();
        double lr = 1e-5, grad = 0.5;  // an RMSprop step is about lr in size whatever the gradient's scale
        Tensor master = torch.full(new long[] {4}, new Scalar(0.02), new org.bytedeco.pytorch.TensorOptions(
                ScalarType.Float));
        Tensor bf16 = master.to(ScalarType.BFloat16);
        for (int step = 0; step < 10; step++) {
            master.sub_(new Scalar(lr * grad));
            bf16.sub_(new Scalar(lr * grad));
        }
        // fp32 rounds each step too (spacing 1.9e-9 at 0.02), far below the 5e-5 the updates add up to.
        assertEquals(0.02 - 10 * lr * grad, master.get(0).item_double(), 1e-7, "fp32 master moved by 10 updates");
        assertEquals(0.02, bf16.get(0).item_double(), 1e-4, "bf16 weight stayed where it was");
        // The bf16 weight did not move at all: each step rounded back to the same value.
        assertEquals(torch.full(new long[] {4}, new Scalar(0.02)).to(ScalarType.BFloat16).get(0).item_double(),
                bf16.get(0).item_double(), 0.0);
    }
}
