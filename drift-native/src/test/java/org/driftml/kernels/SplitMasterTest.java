package org.driftml.kernels;

import static org.driftml.kernels.Tensors.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The split master against its definition: joining the halves gives the master's bits back, and the weight is
 * LibTorch's own bf16 cast of the master except at the exact ties where ties go away from zero instead of to even.
 */
class SplitMasterTest {
    @BeforeEach
    void load() {
        NativeRuntime.load();
        torch.manual_seed(5);
    }

    /** Edge patterns and random ones: zeros, subnormals, the largest finite, infinities, ties, sign flips. */
    static int[] patterns() {
        int[] edges = {0, 0x80000000, 1, 0x80000001, 0x00007FFF, 0x00008000, 0x00008001, 0x0000FFFF, 0x3F800000,
            0x3F808000, 0x3F818000, 0xBF808000, 0xBF818000, 0x3F807FFF, 0x3F808001, 0x7F7FFFFF, 0xFF7FFFFF,
            0x7F7F8000, 0x7F800000, 0xFF800000, 0x0080_0000, 0x007F_FFFF, 0x807F_FFFF};
        Random random = new Random(11);
        int[] out = new int[edges.length + 200_000];
        System.arraycopy(edges, 0, out, 0, edges.length);
        for (int i = edges.length; i < out.length; i++) {
            int bits = random.nextInt();
            // Redraw NaNs (they have their own test); make one in eight a tie.
            while (Float.isNaN(Float.intBitsToFloat(bits))) {
                bits = random.nextInt();
            }
            out[i] = random.nextInt(8) == 0 ? (bits & 0xFFFF0000) | 0x8000 : bits;
            if (Float.isNaN(Float.intBitsToFloat(out[i]))) {
                out[i] = bits;
            }
        }
        return out;
    }

    static Tensor floats(int[] bits) {
        try (IntPointer p = new IntPointer(bits)) {
            return torch.from_blob(p, new long[] {bits.length}, new TensorOptions(ScalarType.Int)).clone()
                    .view(ScalarType.Float);
        }
    }

    static int[] bitsOf(Tensor fp32) {
        Tensor c = fp32.contiguous().view(ScalarType.Int);
        int[] out = new int[(int) c.numel()];
        new IntPointer(c.data_ptr()).capacity(out.length).get(out);
        return out;
    }

    static short[] shortsOf(Tensor sixteenBit) {
        Tensor c = sixteenBit.contiguous().view(ScalarType.Short);
        short[] out = new short[(int) c.numel()];
        new ShortPointer(c.data_ptr()).capacity(out.length).get(out);
        return out;
    }

    static boolean isTie(int bits) {
        return (bits & 0xFFFF) == 0x8000;
    }

    @Test
    void joiningTheHalvesGivesTheMasterBack() {
        int[] bits = patterns();
        Tensor[] halves = SplitMaster.split(floats(bits));
        assertEquals("BFloat16", Tensors.dtype(halves[0]));
        assertEquals("Short", Tensors.dtype(halves[1]));
        int[] joined = bitsOf(SplitMaster.join(halves[0], halves[1]));
        for (int i = 0; i < bits.length; i++) {
            if (joined[i] != bits[i]) {
                throw new AssertionError(String.format("0x%08x came back as 0x%08x", bits[i], joined[i]));
            }
        }
    }

    @Test
    void theWeightIsTheBf16CastExceptTiesGoAwayFromZero() {
        int[] bits = patterns();
        Tensor master = floats(bits);
        short[] weight = shortsOf(SplitMaster.split(master)[0]);
        short[] cast = shortsOf(master.to(ScalarType.BFloat16));  // LibTorch's round-to-nearest-even
        int ties = 0;
        for (int i = 0; i < bits.length; i++) {
            int truncated = bits[i] >>> 16;
            int want = isTie(bits[i]) ? (truncated + 1) & 0xFFFF : cast[i] & 0xFFFF;  // one ulp up in magnitude
            if ((weight[i] & 0xFFFF) != want) {
                throw new AssertionError(String.format("0x%08x: weight 0x%04x, want 0x%04x (cast 0x%04x)", bits[i],
                        weight[i] & 0xFFFF, want, cast[i] & 0xFFFF));
            }
            if (isTie(bits[i]) && (truncated & 1) == 0) {
                ties++;
                assertTrue((cast[i] & 0xFFFF) == truncated, "an even tie rounds down under the cast");
            }
        }
        assertTrue(ties > 1000, "the patterns hold even ties: " + ties);
    }

    @Test
    void aNanMasterStaysNan() {
        Tensor master = floats(new int[] {0x7FC00000, 0x7FFFFFFF, 0xFFFF8000, 0x7F800001, 0xFFC00001});
        Tensor[] halves = SplitMaster.split(master);
        assertTrue(halves[0].to(ScalarType.Float).isnan().all().item_bool(), "the weights are NaN");
        assertTrue(SplitMaster.join(halves[0], halves[1]).isnan().all().item_bool(), "the masters are NaN");
    }

    @Test
    void anUpdateOverASplitMasterEqualsTheUpdateOverAnFp32Master() {
        Tensor m = randn(ScalarType.Float, 3, 70001).mul(new org.bytedeco.pytorch.Scalar(0.05));
        Tensor grad = randn(ScalarType.BFloat16, 3, 70001), v = randn(ScalarType.Float, 3, 70001).abs();
        Tensor fullWeight = m.to(ScalarType.BFloat16), fullMaster = m.clone(), fullV = v.clone();
        Tensor[] halves = SplitMaster.split(m);
        Tensor splitV = v.clone();
        for (int step = 0; step < 3; step++) {
            RmspropStep.apply(fullWeight, grad, fullMaster, fullV, 1e-3, 0.5, 0.99, 1e-8, 0.01);
            RmspropStep.apply(halves[0], grad, halves[1], splitV, 1e-3, 0.5, 0.99, 1e-8, 0.01);
        }
        int[] want = bitsOf(fullMaster), got = bitsOf(SplitMaster.join(halves[0], halves[1]));
        int[] wantV = bitsOf(fullV), gotV = bitsOf(splitV);
        short[] wantW = shortsOf(fullWeight), gotW = shortsOf(halves[0]);
        int differentWeights = 0;
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], "master " + i);
            assertEquals(wantV[i], gotV[i], "square_avg " + i);
            if (wantW[i] != gotW[i]) {
                assertTrue(isTie(want[i]), String.format("weight %d differs off a tie: master 0x%08x", i, want[i]));
                differentWeights++;
            }
        }
        assertTrue(differentWeights < 20, "weights differ only at ties: " + differentWeights);
    }
}
