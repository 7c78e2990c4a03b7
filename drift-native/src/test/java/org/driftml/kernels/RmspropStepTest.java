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

    /**
     * Every build of the CPU loop this machine can run (AVX512, AVX2, DEFAULT: vector_isa.h) against the update written
     * as ATen ops, one rounding per operation in the loop's order, bit for bit: fp32, bf16 over fp32 masters and bf16
     * over split masters, with and without clipping's scale and decay, over values that include NaN and infinite
     * gradients, signed zeros, a zero square average and masters whose low half sits on the split's tie.
     */
    @Test
    void everyInstructionSetBuildIsTheAtenCompositionBitForBit() {
        String detected = VectorIsa.current();
        java.util.List<String> ran = new java.util.ArrayList<>(), lacking = new java.util.ArrayList<>();
        try {
            for (String isa : new String[] {"AVX512", "AVX2", "DEFAULT"}) {
                if (!VectorIsa.use(isa)) {
                    lacking.add(isa);
                    continue;
                }
                ran.add(isa);
                assertEquals(isa, VectorIsa.current());
                for (double[] sd : new double[][] {{1, 0}, {SCALE, 0}, {1, WD}, {SCALE, WD}}) {
                    for (String kind : new String[] {"fp32", "bf16", "split"}) {
                        Tensor[] in = inputs(kind);
                        Tensor[] want = atenComposition(kind, in, sd[0], sd[1]);
                        Tensor w = in[0].clone(), master = kind.equals("fp32") ? w : in[2].clone(), v = in[3].clone();
                        RmspropStep.apply(w, in[1], master, v, LR, sd[0], ALPHA, EPS, sd[1]);
                        String what = isa + " " + kind + " scale " + sd[0] + " decay " + sd[1];
                        assertEquals("", bitDifference(want[0], w), what + ": weight");
                        assertEquals("", bitDifference(want[1], master), what + ": master");
                        assertEquals("", bitDifference(want[2], v), what + ": square_avg");
                    }
                }
            }
            System.out.println("RMSprop CPU loop builds run: " + ran + "; this CPU lacks: " + lacking);
            assertTrue(ran.contains("DEFAULT"), "the scalar build always runs");
            assertTrue(!VectorIsa.use("SSE9"), "unknown names are refused");
        } finally {
            VectorIsa.use(detected);
        }
    }

    /** weight, grad, master (fp32: the weight; split: the residual), square average; 70,001 of each plus specials. */
    private static Tensor[] inputs(String kind) {
        torch.manual_seed(11);
        Tensor m = randn(ScalarType.Float, 70001).mul(new Scalar(0.05));
        Tensor grad = randn(ScalarType.Float, 70001);
        Tensor v = randn(ScalarType.Float, 70001).abs().mul(new Scalar(1e-3));
        // specials at the front (within one vector): NaN and infinite gradients, signed zeros, a zero average, a
        // subnormal master and one whose low half sits on the split's tie (0x8000)
        double nan = Double.NaN, inf = Double.POSITIVE_INFINITY;
        front(grad, nan, inf, -inf, 0.0, -0.0, 1e-30, -3.0, 0.0);
        front(m, 0.5, -0.25, 1.0, -0.0, 0.0, 1e-39, Float.intBitsToFloat(0x3F808000), 2.0);
        front(v, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1e-20);
        switch (kind) {
            case "fp32":
                return new Tensor[] {m, grad, m, v};
            case "bf16":
                return new Tensor[] {m.to(ScalarType.BFloat16), grad.to(ScalarType.BFloat16), m, v};
            default:
                Tensor[] halves = SplitMaster.split(m);
                return new Tensor[] {halves[0], grad.to(ScalarType.BFloat16), halves[1], v};
        }
    }

    private static void front(Tensor t, double... values) {
        t.narrow(0, 0, values.length).copy_(Tensors.of(values).to(ScalarType.Float));
    }

    /** [weight, master, square average] after one update made of ATen ops, each rounding once, in the loop's order. */
    private static Tensor[] atenComposition(String kind, Tensor[] in, double scale, double decay) {
        Tensor m = kind.equals("split") ? SplitMaster.join(in[0], in[2]) : in[2];
        Tensor g = in[1].to(ScalarType.Float);
        if (scale != 1) {
            g = g.mul(new Scalar((float) scale));
        }
        if (decay != 0) {
            g = g.add(m.mul(new Scalar((float) decay)));
        }
        Tensor v = in[3].mul(new Scalar((float) ALPHA)).add(g.mul(g).mul(new Scalar(1f - (float) ALPHA)));
        Tensor m2 = m.add(g.div(v.sqrt().add(new Scalar((float) EPS))).mul(new Scalar(-(float) LR)));
        switch (kind) {
            case "fp32":
                return new Tensor[] {m2, m2, v};
            case "bf16":
                return new Tensor[] {m2.to(ScalarType.BFloat16), m2, v};
            default:
                Tensor[] halves = SplitMaster.split(m2);
                return new Tensor[] {halves[0], halves[1], v};
        }
    }

    /** "" for equal bit patterns (NaN payloads and signed zeros included), else the first element that differs. */
    private static String bitDifference(Tensor want, Tensor got) {
        ScalarType bits = want.element_size() == 4 ? ScalarType.Int : ScalarType.Short;
        Tensor ne = want.view(bits).ne(got.view(bits));
        if (Tensors.dtype(want).equals("BFloat16")) {
            // ATen's vectorised cast to bf16 writes a NaN as 0xFFFF, c10's scalar one (the loop's, as before it was
            // vectorised) as 0x7FC0: for the bf16 weight any NaN stands for a NaN.
            ne = ne.logical_and(want.isnan().logical_and(got.isnan()).logical_not());
        }
        Tensor differs = ne.nonzero();
        if (differs.size(0) == 0) {
            return "";
        }
        long i = differs.get(0).item_long();
        return differs.size(0) + " differ, first at " + i + ": want bits " + Integer.toHexString(
                want.view(bits).get(i).item_int()) + ", got " + Integer.toHexString(got.view(bits).get(i).item_int());
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
