package org.driftml.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.report.StepMetrics;
import org.driftml.kernels.StepScope;
import org.driftml.kernels.TestDevice;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.Torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * DPO steps with the policy, the reference and every batch on the test device ({@link TestDevice}): a CPU tensor
 * anywhere in the step fails it, the results equal the CPU run's, and a step reads the device at most twice (its
 * metrics, then the gradient norm), whatever the number of micro-batches and parameter tensors.
 */
@Tag("testdevice")
class DpoOnDeviceTest {
    static Device device;

    @BeforeAll
    static void install() {
        device = Torch.device(ComputeDevice.TEST);
    }

    /** Steps' metrics and the final weights (copied to the CPU) of a short run. */
    record Run(List<StepMetrics> steps, Map<String, Tensor> weights, long hostReads) {}

    static Run train(Device on, ScalarType dtype, boolean precompute) throws Exception {
        List<PairTokenizer.TokenizedPair> data = DpoTrainerTest.pairs(8, 11);
        try (Decoder policy = Decoder.load(DpoTrainerTest.tinyQwen2(), dtype, on);
                Decoder frozen = policy.frozenCopy()) {
            ReferencePolicy reference = new FrozenReference(frozen);
            if (precompute) {
                reference = PrecomputedReference.compute(reference, data, 0, 3);
            }
            // Batches of 4 pairs in two micro-batches, clipped at norm 1: two steps.
            try (DpoTrainer trainer = new DpoTrainer(policy, reference, DpoTrainerTest.fast(1e-3, 4, 2, 1), 0, 3)) {
                TestDevice.resetHostReads();
                List<StepMetrics> steps = trainer.train(data);
                long reads = TestDevice.hostReads();
                Map<String, Tensor> weights = new java.util.LinkedHashMap<>();
                policy.weights().forEach((name, w) -> weights.put(name, w.detach().cpu().to(ScalarType.Double)));
                return new Run(steps, weights, reads);
            }
        }
    }

    /**
     * fp32: the same steps to within the generic ops' rounding. Off the CPU and CUDA the fused log-prob op runs its
     * tiles as ATen ops instead of the AVX-512 loops (log-probs agree to a few fp32 ulps), and the preference loss
     * takes ATen's exp and log1p; RMSprop's update is the CPU loop's bit for bit. Two steps later the metrics agree
     * to 5e-4 (relative, or absolute below 1e-3) and the weights to 2e-5.
     */
    @ParameterizedTest
    @CsvSource({"false", "true"})
    void fp32StepsOnTheDeviceMatchTheCpuAndReadTheDeviceTwicePerStep(boolean precompute) throws Exception {
        try (StepScope scope = StepScope.open()) {
            Run cpu = train(Torch.device(ComputeDevice.CPU), ScalarType.Float, precompute);
            Run onDevice = train(device, ScalarType.Float, precompute);
            assertReadsAndClipping(onDevice);
            // The first loss to a few fp32 ulps: bit for bit where the CPU's tiles run on AVX-512, one ulp apart
            // where they run on AVX2 (measured on an AMD EPYC without AVX-512, with the precomputed reference).
            double first = cpu.steps().get(0).get("loss");
            assertEquals(first, onDevice.steps().get(0).get("loss"), 4 * Math.ulp((float) first),
                    "the same first loss, to 4 fp32 ulps");
            for (int s = 0; s < cpu.steps().size(); s++) {
                for (String k : cpu.steps().get(s).trl().keySet()) {
                    double a = cpu.steps().get(s).get(k), b = onDevice.steps().get(s).get(k);
                    assertTrue(Math.abs(a - b) <= 5e-4 * Math.max(1e-3, Math.abs(a)), "step " + s + " " + k + ": "
                            + a + " vs " + b);
                }
            }
            for (Map.Entry<String, Tensor> e : cpu.weights().entrySet()) {
                double d = e.getValue().sub(onDevice.weights().get(e.getKey())).abs().max().item_double();
                assertTrue(d <= 2e-5, e.getKey() + ": " + d);
            }
        }
    }

    /**
     * bf16: the first step's forward agrees with the CPU's to a few fp32 ulps (the CPU's log-prob tiles run on AMX,
     * the device's through ATen: the same bf16 products, summed in another order; bit for bit on some batches, one
     * ulp apart on others) and its gradient norm to 1e-3. Later steps are
     * not compared: the CPU's bf16 log-prob tiles run on AMX, the device's through ATen, and the bf16 gradients
     * differ in their last bits; RMSprop's first update is lr * 10 * sign(g) for every element, so any gradient
     * whose sign differs moves its weight 2 * 10 * lr apart (measured: half the weights differ after two steps).
     */
    @ParameterizedTest
    @CsvSource({"false", "true"})
    void bf16StepsOnTheDeviceStartAsOnTheCpuAndReadTheDeviceTwicePerStep(boolean precompute) throws Exception {
        try (StepScope scope = StepScope.open()) {
            Run cpu = train(Torch.device(ComputeDevice.CPU), ScalarType.BFloat16, precompute);
            Run onDevice = train(device, ScalarType.BFloat16, precompute);
            assertReadsAndClipping(onDevice);
            StepMetrics first = cpu.steps().get(0), firstOnDevice = onDevice.steps().get(0);
            for (String k : List.of("loss", "logps/chosen", "logps/rejected")) {
                assertEquals(first.get(k), firstOnDevice.get(k), 1e-6 * Math.abs(first.get(k)), k);
            }
            assertEquals(first.get("grad_norm"), firstOnDevice.get("grad_norm"), 1e-3 * first.get("grad_norm"));
        }
    }

    private static void assertReadsAndClipping(Run onDevice) {
        assertEquals(2, onDevice.steps().size());
        assertTrue(onDevice.steps().get(0).get("grad_norm") > 1.0, "the clipping path runs");
        assertFalse(onDevice.weights().isEmpty());
        assertTrue(onDevice.hostReads() <= 2L * onDevice.steps().size(),
                onDevice.hostReads() + " host reads in " + onDevice.steps().size() + " steps");
    }
}
