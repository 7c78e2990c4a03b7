package org.driftml.kernels;

import static org.driftml.kernels.Tensors.maxAbsDiff;
import static org.driftml.kernels.Tensors.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The fused RMSprop update against its formula written out in fp64. */
class RmspropStepTest {
    static final double LR = 3e-3, SCALE = 0.37, ALPHA = 0.99, EPS = 1e-8, WD = 0.01;

    @BeforeEach
    void seed() {
        NativeRuntime.load();
        torch.manual_seed(3);
    }

    /** [m', v'] in fp64: g = scale grad + wd m; v' = alpha v + (1 - alpha) g^2; m' = m - lr g / (sqrt(v') + eps). */
    static Tensor[] expected(Tensor grad, Tensor m, Tensor v) {
        Tensor g = grad.to(ScalarType.Double).mul(new Scalar(SCALE)).add(m.to(ScalarType.Double).mul(new Scalar(WD)));
        Tensor v2 = v.to(ScalarType.Double).mul(new Scalar(ALPHA)).add(g.mul(g).mul(new Scalar(1 - ALPHA)));
        Tensor m2 = m.to(ScalarType.Double).sub(g.div(v2.sqrt().add(new Scalar(EPS))).mul(new Scalar(LR)));
        return new Tensor[] {m2, v2};
    }

    @Test
    void fp32WeightsAreTheirOwnMastersAndMatchTheFormula() {
        Tensor w = randn(ScalarType.Float, 1000, 37), grad = randn(ScalarType.Float, 1000, 37);
        Tensor v = randn(ScalarType.Float, 1000, 37).abs();
        Tensor[] want = expected(grad, w, v);
        RmspropStep.apply(w, grad, w, v, LR, SCALE, ALPHA, EPS, WD);
        // fp32 arithmetic, a handful of roundings per element
        assertTrue(maxAbsDiff(v, want[1]) < 1e-5, "v " + maxAbsDiff(v, want[1]));
        assertTrue(maxAbsDiff(w, want[0]) < 1e-5, "w " + maxAbsDiff(w, want[0]));
    }

    @Test
    void bf16WeightsCopyTheirUpdatedFp32MastersRounded() {
        Tensor m = randn(ScalarType.Float, 3, 70001);  // not a multiple of any vector width or grain
        Tensor w = m.to(ScalarType.BFloat16), grad = randn(ScalarType.BFloat16, 3, 70001);
        Tensor v = randn(ScalarType.Float, 3, 70001).abs();
        Tensor[] want = expected(grad, m, v);
        RmspropStep.apply(w, grad, m, v, LR, SCALE, ALPHA, EPS, WD);
        assertTrue(maxAbsDiff(m, want[0]) < 1e-5, "master " + maxAbsDiff(m, want[0]));
        assertTrue(maxAbsDiff(v, want[1]) < 1e-5, "square_avg " + maxAbsDiff(v, want[1]));
        assertEquals(0.0, maxAbsDiff(w, m.to(ScalarType.BFloat16)), "the bf16 weight is the master rounded");
    }

    @Test
    void mismatchedTensorsAreNamed() {
        Tensor w = randn(ScalarType.BFloat16, 4), m = randn(ScalarType.Float, 4), v = randn(ScalarType.Float, 5);
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> RmspropStep.apply(w, w, m, v, LR, 1, ALPHA, EPS, 0));
        assertTrue(e.getMessage().contains("square_avg 5"), e.getMessage());
        RuntimeException f = assertThrows(RuntimeException.class,
                () -> RmspropStep.apply(m, m, m.clone(), randn(ScalarType.Float, 4), LR, 1, ALPHA, EPS, 0));
        assertTrue(f.getMessage().contains("its own master"), f.getMessage());
    }
}
