package org.driftml.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The C++ ops on a device that is neither the CPU nor CUDA take their generic ATen paths: the test device runs them
 * in CI. Where the math is the same operation for operation (RMSprop, the master split) they must equal the CPU loops
 * bit for bit; the rest to the stated tolerance. None reads the device back.
 */
@Tag("testdevice")
class GenericPathsOnDeviceTest {
    @BeforeAll
    static void install() {
        TestDeviceTest.install();
    }

    static Tensor on(Tensor t) {
        return TestDeviceTest.on(t);
    }

    static boolean sameBits(Tensor cpu, Tensor onDevice) {
        assertFalse(onDevice.is_cpu(), "the result stays on the device");
        return torch.equal(cpu, onDevice.cpu());
    }

    /** fp32 weight, bf16 weight over an fp32 master, and bf16 over a split master, with clipping and decay. */
    @ParameterizedTest
    @ValueSource(strings = {"fp32", "bf16", "split"})
    void rmspropOnTheDeviceIsTheCpuLoopBitForBit(String kind) {
        try (StepScope scope = StepScope.open()) {
            torch.manual_seed(7);
            Tensor master = torch.randn(new long[] {3000}).mul(new Scalar(0.05));
            Tensor grad32 = torch.randn(new long[] {3000}).mul(new Scalar(1e-3));
            Tensor avg = torch.rand(new long[] {3000}).mul(new Scalar(1e-6));
            Tensor[] cpu = state(kind, master, grad32, avg), dev = new Tensor[4];
            for (int i = 0; i < 4; i++) {
                dev[i] = on(cpu[i]);
            }
            if (kind.equals("fp32")) {
                dev[2] = dev[0];
            }
            TestDevice.resetHostReads();
            for (int step = 0; step < 3; step++) {
                RmspropStep.apply(cpu[0], cpu[1], cpu[2], cpu[3], 1e-3, 0.7, 0.99, 1e-8, 0.01);
                RmspropStep.apply(dev[0], dev[1], dev[2], dev[3], 1e-3, 0.7, 0.99, 1e-8, 0.01);
            }
            assertEquals(0, TestDevice.hostReads(), "the update reads nothing back");
            assertTrue(sameBits(cpu[0], dev[0]), kind + ": weight");
            assertTrue(sameBits(cpu[2], dev[2]), kind + ": master");
            assertTrue(sameBits(cpu[3], dev[3]), kind + ": square averages");
        }
    }

    /** weight, grad, master (the weight itself in fp32; a residual when split), square averages: on the CPU. */
    private static Tensor[] state(String kind, Tensor master, Tensor grad32, Tensor avg) {
        return switch (kind) {
            case "fp32" -> {
                Tensor w = master.clone();
                yield new Tensor[] {w, grad32, w, avg.clone()};
            }
            case "bf16" -> new Tensor[] {master.to(ScalarType.BFloat16), grad32.to(ScalarType.BFloat16),
                master.clone(), avg.clone()};
            default -> {
                Tensor[] halves = SplitMaster.split(master);
                yield new Tensor[] {halves[0], grad32.to(ScalarType.BFloat16), halves[1], avg.clone()};
            }
        };
    }

    @Test
    void splittingAndJoiningOnTheDeviceIsTheCpusBitForBit() {
        try (StepScope scope = StepScope.open()) {
            torch.manual_seed(8);
            // Random values, ties at the rounding point, negatives, zeros, infinities and NaN.
            Tensor special = torch.tensor(new float[] {0f, -0f, Float.intBitsToFloat(0x3F808000),
                Float.intBitsToFloat(0xBF808000), Float.intBitsToFloat(0x3F818000), Float.POSITIVE_INFINITY,
                Float.NEGATIVE_INFINITY, Float.NaN, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE});
            Tensor master = torch.cat(new org.bytedeco.pytorch.TensorVector(
                    torch.randn(new long[] {5000}).mul(new Scalar(3.0)), special));
            Tensor[] cpu = SplitMaster.split(master);
            TestDevice.resetHostReads();
            Tensor[] dev = SplitMaster.split(on(master));
            Tensor joined = SplitMaster.join(dev[0], dev[1]);
            assertEquals(0, TestDevice.hostReads(), "split and join stay on the device");
            assertTrue(sameBits(cpu[0].view(ScalarType.Short), dev[0].view(ScalarType.Short)), "weights");
            assertTrue(sameBits(cpu[1], dev[1]), "residuals");
            assertTrue(sameBits(SplitMaster.join(cpu[0], cpu[1]).view(ScalarType.Int), joined.view(ScalarType.Int)),
                    "joined masters");
        }
    }

    /** The per-pair math as ATen ops: exp and log1p are ATen's, so within a few fp32 ulps of the CPU loop. */
    @ParameterizedTest
    @EnumSource(PreferenceLoss.Type.class)
    void preferenceLossOnTheDeviceMatchesTheCpu(PreferenceLoss.Type type) {
        try (StepScope scope = StepScope.open()) {
            torch.manual_seed(9);
            Tensor[] in = new Tensor[4];
            for (int i = 0; i < 4; i++) {
                in[i] = torch.randn(new long[] {64}).mul(new Scalar(20.0)).sub(new Scalar(50.0));
            }
            double smoothing = type == PreferenceLoss.Type.HINGE || type == PreferenceLoss.Type.IPO ? 0.0 : 0.1;
            Tensor pc = in[0].clone().requires_grad_(true), pcDev = on(in[0]).requires_grad_(true);
            PreferenceLoss.Output cpu = PreferenceLoss.compute(pc, in[1], in[2], in[3], 0.1, type, smoothing);
            PreferenceLoss.Output dev = PreferenceLoss.compute(pcDev, on(in[1]), on(in[2]), on(in[3]), 0.1, type,
                    smoothing);
            assertTrue(sameBits(cpu.chosenRewards(), dev.chosenRewards()), "rewards are one product: exact");
            assertClose(cpu.loss(), dev.loss(), type + " loss");
            cpu.loss().sum().backward();
            dev.loss().sum().backward();
            assertClose(pc.grad(), pcDev.grad(), type + " gradient");
        }
    }

    private static void assertClose(Tensor cpu, Tensor onDevice, String what) {
        assertFalse(onDevice.is_cpu());
        double diff = cpu.sub(onDevice.cpu()).abs().max().item_double();
        double scale = Math.max(1e-6, cpu.abs().max().item_double());
        assertTrue(diff <= 4e-7 * scale, what + ": " + diff + " at scale " + scale);
    }

    /**
     * The fused log-prob op's ATen tiles against the CPU's vectorized ones, fp32 and bf16; given the scored
     * positions it reads nothing back, while finding them itself costs a read (nonzero's count).
     */
    @ParameterizedTest
    @ValueSource(strings = {"Float", "BFloat16"})
    void sequenceLogpsOnTheDeviceMatchesTheCpuWithoutReadingBackGivenItsPositions(String dtypeName) {
        ScalarType dtype = ScalarType.valueOf(dtypeName);
        try (StepScope scope = StepScope.open()) {
            torch.manual_seed(10);
            long n = 3, t = 9, d = 16, v = 300;
            Tensor hidden = torch.randn(new long[] {n, t, d}).to(dtype);
            Tensor weight = torch.randn(new long[] {v, d}).mul(new Scalar(0.3)).to(dtype);
            Tensor targets = torch.randint(v, new long[] {n, t});
            Tensor mask = torch.rand(new long[] {n, t}).gt(new Scalar(0.4));
            Tensor scored = mask.reshape(-1).nonzero().squeeze(1);
            Tensor h = hidden.clone().requires_grad_(true), hDev = on(hidden).requires_grad_(true);
            SequenceLogps.Output cpu = SequenceLogps.compute(h, weight, targets, mask);
            TestDevice.resetHostReads();
            SequenceLogps.Output dev = SequenceLogps.compute(hDev, on(weight), on(targets), on(mask), on(scored));
            dev.logps().sum().backward();
            assertEquals(0, TestDevice.hostReads(), "given the positions, forward and backward read nothing back");
            SequenceLogps.compute(on(hidden), on(weight), on(targets), on(mask));
            assertEquals(1, TestDevice.hostReads(), "finding them is one read");
            cpu.logps().sum().backward();
            assertTrue(sameBits(cpu.tokenCounts(), dev.tokenCounts()));
            double tolerance = dtype == ScalarType.Float ? 1e-6 : 1e-5;
            double diff = cpu.logps().sub(dev.logps().cpu()).abs().max().item_double();
            assertTrue(diff <= tolerance * cpu.logps().abs().max().item_double(), "log-probs differ by " + diff);
            double gradDiff = h.grad().to(ScalarType.Float).sub(hDev.grad().cpu().to(ScalarType.Float)).abs().max()
                    .item_double();
            double gradScale = h.grad().to(ScalarType.Float).abs().max().item_double();
            assertTrue(gradDiff <= (dtype == ScalarType.Float ? 1e-6 : 1e-2) * gradScale,
                    "hidden gradients differ by " + gradDiff + " at scale " + gradScale);
        }
    }
}
