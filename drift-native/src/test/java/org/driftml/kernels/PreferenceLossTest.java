package org.driftml.kernels;

import static org.driftml.kernels.Tensors.leaf;
import static org.driftml.kernels.Tensors.maxAbsDiff;
import static org.driftml.kernels.Tensors.of;
import static org.driftml.kernels.Tensors.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class PreferenceLossTest {
    static final double BETA = 0.1;

    @BeforeEach
    void seed() {
        NativeRuntime.load();
        torch.manual_seed(7);
    }

    /** TRL DPOTrainer's formulas, composed from ATen ops: what the fused kernel must reproduce. */
    static Tensor unfusedLoss(Tensor pc, Tensor pr, Tensor rc, Tensor rr, double beta, PreferenceLoss.Type type,
            double eps) {
        Tensor z = pc.sub(pr).sub(rc.sub(rr));
        Tensor bz = z.mul(new Scalar(beta));
        switch (type) {
            case SIGMOID:
                return torch.log_sigmoid(bz).mul(new Scalar(-(1 - eps)))
                        .sub(torch.log_sigmoid(bz.neg()).mul(new Scalar(eps)));
            case ROBUST:
                return torch.log_sigmoid(bz).mul(new Scalar(-(1 - eps)))
                        .add(torch.log_sigmoid(bz.neg()).mul(new Scalar(eps))).div(new Scalar(1 - 2 * eps));
            case HINGE:
                return bz.neg().add(new Scalar(1.0)).relu();
            case IPO:
                return z.sub(new Scalar(1 / (2 * beta))).pow(new Scalar(2));
            default:
                throw new AssertionError(type);
        }
    }

    /** Summed log-probs of 7-token-ish sequences: large negative values with spread, like real ones. */
    static Tensor logps(ScalarType dtype, long batch) {
        return randn(ScalarType.Float, batch).mul(new Scalar(20)).sub(new Scalar(150)).to(dtype);
    }

    @ParameterizedTest
    @EnumSource(PreferenceLoss.Type.class)
    void fp32LossAndGradientsEqualTheUnfusedComposition(PreferenceLoss.Type type) {
        double eps = type == PreferenceLoss.Type.ROBUST || type == PreferenceLoss.Type.SIGMOID ? 0.1 : 0.0;
        Tensor[] in = {logps(ScalarType.Float, 64), logps(ScalarType.Float, 64), logps(ScalarType.Float, 64),
                logps(ScalarType.Float, 64)};
        Tensor[] a = new Tensor[4], b = new Tensor[4];
        for (int i = 0; i < 4; i++) {
            a[i] = leaf(in[i]);
            b[i] = leaf(in[i]);
        }
        PreferenceLoss.Output fused = PreferenceLoss.compute(a[0], a[1], a[2], a[3], BETA, type, eps);
        Tensor expected = unfusedLoss(b[0], b[1], b[2], b[3], BETA, type, eps);

        assertTrue(maxAbsDiff(fused.loss(), expected) < 1e-5, () -> type + " loss differs by "
                + maxAbsDiff(fused.loss(), expected));
        assertEquals("Float", Tensors.dtype(fused.loss()));

        // A non-uniform upstream gradient, so each pair's gradient is checked on its own.
        Tensor upstream = torch.rand(64);
        fused.loss().backward(upstream, new org.bytedeco.pytorch.BoolOptional(), false,
                new org.bytedeco.pytorch.TensorArrayRefOptional());
        expected.backward(upstream, new org.bytedeco.pytorch.BoolOptional(), false,
                new org.bytedeco.pytorch.TensorArrayRefOptional());
        for (int i = 0; i < 4; i++) {
            double d = maxAbsDiff(a[i].grad(), b[i].grad());
            int input = i;
            assertTrue(d < 1e-6, () -> type + " grad of input " + input + " differs by " + d);
        }
    }

    @Test
    void rewardsAreBetaTimesTheLogRatiosAndCarryNoGradient() {
        Tensor pc = leaf(of(-10, -20)), pr = leaf(of(-12, -18)), rc = of(-11, -19), rr = of(-11, -19);
        PreferenceLoss.Output out = PreferenceLoss.dpo(pc, pr, rc, rr, 0.5);
        assertEquals(0.5, out.chosenRewards().get(0).item_double(), 1e-12);
        assertEquals(-0.5, out.chosenRewards().get(1).item_double(), 1e-12);
        assertEquals(-0.5, out.rejectedRewards().get(0).item_double(), 1e-12);
        assertEquals(0.5, out.rejectedRewards().get(1).item_double(), 1e-12);
        assertFalse(out.chosenRewards().requires_grad());
        assertFalse(out.rejectedRewards().requires_grad());
        assertTrue(out.loss().requires_grad());
    }

    @Test
    void sigmoidLossIsLn2WhenPolicyEqualsReference() {
        Tensor x = logps(ScalarType.Float, 16), y = logps(ScalarType.Float, 16);
        PreferenceLoss.Output out = PreferenceLoss.dpo(x, y, x, y, BETA);
        assertEquals(Math.log(2), out.loss().mean().item_double(), 1e-7);
    }

    @Test
    void largeMarginsStayFinite() {
        // log sigmoid of -1000 must be -1000, not -inf: the kernel's stable form is what keeps low precision safe.
        Tensor pc = of(0, -5000), pr = of(-5000, 0), r = of(0, 0);
        PreferenceLoss.Output out = PreferenceLoss.dpo(pc.to(ScalarType.Float), pr.to(ScalarType.Float),
                r.to(ScalarType.Float), r.to(ScalarType.Float), 0.2);
        assertEquals(0.0, out.loss().get(0).item_double(), 1e-6);
        assertEquals(1000.0, out.loss().get(1).item_double(), 1e-3);
    }

    @ParameterizedTest
    @EnumSource(PreferenceLoss.Type.class)
    void bf16InputsAccumulateInFp32(PreferenceLoss.Type type) {
        double eps = type == PreferenceLoss.Type.ROBUST ? 0.2 : 0.0;
        Tensor[] in = {logps(ScalarType.BFloat16, 32), logps(ScalarType.BFloat16, 32), logps(ScalarType.BFloat16, 32),
                logps(ScalarType.BFloat16, 32)};
        Tensor[] a = new Tensor[4];
        for (int i = 0; i < 4; i++) {
            a[i] = leaf(in[i]);
        }
        PreferenceLoss.Output fused = PreferenceLoss.compute(a[0], a[1], a[2], a[3], BETA, type, eps);
        assertEquals("Float", Tensors.dtype(fused.loss()));
        // Against the composition on the same bf16 values promoted to fp32: bf16 rounding of the inputs is the only
        // difference the fused op may not add to.
        Tensor exact = unfusedLoss(in[0].to(ScalarType.Float), in[1].to(ScalarType.Float), in[2].to(ScalarType.Float),
                in[3].to(ScalarType.Float), BETA, type, eps);
        assertTrue(maxAbsDiff(fused.loss(), exact) < 1e-5, () -> "bf16 " + type + ": " + maxAbsDiff(fused.loss(), exact));
        // And against the all-bf16 composition, within bf16's resolution.
        Tensor bf16 = unfusedLoss(in[0], in[1], in[2], in[3], BETA, type, eps);
        double tol = 0.02 * Math.max(1.0, Tensors.maxAbs(exact));
        assertTrue(maxAbsDiff(fused.loss(), bf16) < tol, () -> "bf16 vs bf16 composition: " + maxAbsDiff(fused.loss(), bf16));
        fused.loss().sum().backward();
        for (int i = 0; i < 4; i++) {
            assertEquals("BFloat16", Tensors.dtype(a[i].grad()), "gradient keeps its input's dtype");
        }
    }

    @ParameterizedTest
    @EnumSource(PreferenceLoss.Type.class)
    void gradientsMatchFiniteDifferencesInDouble(PreferenceLoss.Type type) {
        double eps = type == PreferenceLoss.Type.ROBUST || type == PreferenceLoss.Type.SIGMOID ? 0.15 : 0.0;
        double beta = 0.3;
        // Margins kept away from the hinge's kink at beta z = 1.
        double[][] v = {{-3.0, -7.5, -1.25, 4.0}, {-5.0, -2.5, -6.0, 1.0}, {-4.5, -6.0, -2.0, -3.0},
                {-4.0, -3.0, -4.0, 2.5}};
        Tensor[] in = new Tensor[4];
        for (int i = 0; i < 4; i++) {
            in[i] = leaf(of(v[i]));
        }
        Tensor w = of(0.3, -1.2, 0.7, 2.0);
        PreferenceLoss.compute(in[0], in[1], in[2], in[3], beta, type, eps).loss().mul(w).sum().backward();
        double h = 1e-6;
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                double[][] plus = copy(v), minus = copy(v);
                plus[i][j] += h;
                minus[i][j] -= h;
                double numeric = (weighted(plus, beta, type, eps, w) - weighted(minus, beta, type, eps, w)) / (2 * h);
                double analytic = in[i].grad().get(j).item_double();
                assertEquals(numeric, analytic, 1e-6 * Math.max(1, Math.abs(numeric)),
                        type + " d/d input " + i + "[" + j + "]");
            }
        }
    }

    private static double weighted(double[][] v, double beta, PreferenceLoss.Type type, double eps, Tensor w) {
        return PreferenceLoss.compute(of(v[0]), of(v[1]), of(v[2]), of(v[3]), beta, type, eps).loss().mul(w).sum()
                .item_double();
    }

    private static double[][] copy(double[][] v) {
        double[][] c = new double[v.length][];
        for (int i = 0; i < v.length; i++) {
            c[i] = v[i].clone();
        }
        return c;
    }

    @Test
    void mismatchedBatchNamesTheTensor() {
        RuntimeException e = assertThrows(RuntimeException.class, () -> PreferenceLoss.dpo(
                randn(ScalarType.Float, 4), randn(ScalarType.Float, 4), randn(ScalarType.Float, 3),
                randn(ScalarType.Float, 4), BETA));
        assertTrue(e.getMessage().contains("reference_chosen has batch 3 but policy_chosen has batch 4"), e.getMessage());
        assertFalse(e.getMessage().contains("frame #"), "no native backtrace in the message: " + e.getMessage());
    }

    @Test
    void wrongRankAndDtypeAreClearErrors() {
        RuntimeException rank = assertThrows(RuntimeException.class, () -> PreferenceLoss.dpo(
                randn(ScalarType.Float, 4, 2), randn(ScalarType.Float, 4), randn(ScalarType.Float, 4),
                randn(ScalarType.Float, 4), BETA));
        assertTrue(rank.getMessage().contains("policy_chosen must be 1-D [B]"), rank.getMessage());
        RuntimeException dtype = assertThrows(RuntimeException.class, () -> PreferenceLoss.dpo(
                randn(ScalarType.Float, 4), torch.ones(4).to(ScalarType.Long), randn(ScalarType.Float, 4),
                randn(ScalarType.Float, 4), BETA));
        assertTrue(dtype.getMessage().contains("policy_rejected must be floating point"), dtype.getMessage());
        RuntimeException beta = assertThrows(RuntimeException.class, () -> PreferenceLoss.dpo(
                randn(ScalarType.Float, 4), randn(ScalarType.Float, 4), randn(ScalarType.Float, 4),
                randn(ScalarType.Float, 4), 0.0));
        assertTrue(beta.getMessage().contains("beta must be > 0"), beta.getMessage());
        RuntimeException smoothing = assertThrows(RuntimeException.class, () -> PreferenceLoss.compute(
                randn(ScalarType.Float, 4), randn(ScalarType.Float, 4), randn(ScalarType.Float, 4),
                randn(ScalarType.Float, 4), BETA, PreferenceLoss.Type.ROBUST, 0.5));
        assertTrue(smoothing.getMessage().contains("label_smoothing must be in [0, 0.5)"), smoothing.getMessage());
    }

    @Test
    void lossTypesParseFromTrlNames() {
        assertEquals(PreferenceLoss.Type.IPO, PreferenceLoss.Type.parse("ipo"));
        assertEquals(PreferenceLoss.Type.SIGMOID, PreferenceLoss.Type.parse("Sigmoid"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PreferenceLoss.Type.parse("kto"));
        assertTrue(e.getMessage().contains("unknown preference loss 'kto'"));
    }
}
