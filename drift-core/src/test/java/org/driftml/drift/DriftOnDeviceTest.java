package org.driftml.drift;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.output.Progress;
import org.driftml.data.DsatMiner;
import org.driftml.kernels.StepScope;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.ModelConfig;
import org.driftml.model.spec.Precision;
import org.driftml.model.internal.SafetensorsFile;
import org.driftml.model.internal.Torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.driftml.model.SequenceClassifierRewardModel;
import org.driftml.drift.RewardModelTest;

/**
 * The DRIFT loop with every stage's models on the test device: warm start and an iteration for each method, the
 * positives sampled there, the reference scored there, checkpoints saved from it and a crashed run resumed onto it.
 * The CPU run is the reference: the same pairs (sampling draws the same tokens) and the same models to the fp32
 * tolerance of the generic ops (DpoOnDeviceTest).
 */
@Tag("testdevice")
class DriftOnDeviceTest {
    @BeforeAll
    static void install() {
        Torch.device(ComputeDevice.TEST);
    }

    static DriftConfig config(DriftConfig.Method method) {
        return DriftTrainerTest.config().withMethod(method).withIterations(1);
    }

    @ParameterizedTest
    @EnumSource(DriftConfig.Method.class)
    void eachMethodOnTheDeviceBuildsTheCpusPairsAndModels(DriftConfig.Method method, @TempDir Path dir)
            throws Exception {
        DsatMiner.Mined mined = DriftTrainerTest.logs();
        Path cpu = dir.resolve("cpu"), onDevice = dir.resolve("device");
        DriftTrainer.Result a = DriftTrainerTest.quiet(config(method)).train(DriftTrainerTest.model(), mined, cpu);
        DriftTrainer.Result b = DriftTrainerTest.quiet(config(method)).device(ComputeDevice.TEST)
                .train(DriftTrainerTest.model(), mined, onDevice);
        assertEquals(List.of("warmstart", "iteration-1"), b.stages().stream().map(StageSummary::stage).toList());
        assertEquals(Files.readString(cpu.resolve("iteration-1/pairs.jsonl")),
                Files.readString(onDevice.resolve("iteration-1/pairs.jsonl")), "the same pairs, positives included");
        for (String stage : List.of("warmstart", "iteration-1")) {
            assertModelsClose(cpu.resolve(stage), onDevice.resolve(stage), 1e-4);
        }
        for (int s = 0; s < a.stages().size(); s++) {
            double la = a.stages().get(s).lossLast(), lb = b.stages().get(s).lossLast();
            assertEquals(la, lb, 1e-4 * Math.abs(la), "stage " + s + " last loss");
        }
    }

    /** Killed mid-stage on the device and rerun there: the same model, bit for bit, as the uninterrupted run. */
    @Test
    void aCrashedRunOnTheDeviceResumesOntoItWithTheSameModel(@TempDir Path dir) throws Exception {
        DsatMiner.Mined mined = DriftTrainerTest.logs();
        DriftConfig c = config(DriftConfig.Method.DRIFT).withRun(Precision.BF16, 0, 1, 7);
        Path whole = dir.resolve("whole"), resumed = dir.resolve("resumed");
        DriftTrainerTest.quiet(c).device(ComputeDevice.TEST).train(DriftTrainerTest.model(), mined, whole);
        class Crash extends RuntimeException {}
        assertThrows(Crash.class, () -> DriftTrainerTest.quiet(c).device(ComputeDevice.TEST)
                .progress(new Progress() {
                    @Override
                    public void stepDone(String stage, int step) {
                        if (stage.equals("iteration-1") && step == 1) {
                            throw new Crash();
                        }
                    }
                }).train(DriftTrainerTest.model(), mined, resumed));
        assertFalse(Files.exists(resumed.resolve("iteration-1/summary.json")));
        DriftTrainerTest.quiet(c).device(ComputeDevice.TEST).train(DriftTrainerTest.model(), mined, resumed);
        for (String stage : List.of("warmstart", "iteration-1")) {
            assertEquals(-1L, Files.mismatch(whole.resolve(stage).resolve("model.safetensors"),
                    resumed.resolve(stage).resolve("model.safetensors")), stage);
        }
    }

    /** The reward model on the device scores as on the CPU (the same CPU kernels behind it: bit for bit). */
    @Test
    void theRewardModelOnTheDeviceScoresAsOnTheCpu() throws Exception {
        List<org.driftml.text.ChatMessage> prompt = List.of(org.driftml.text.ChatMessage.user("2+2?"));
        List<String> responses = List.of("4", "It is four, of course.", "5");
        Path folder = RewardModelTest.parity("tiny-qwen2-reward");
        try (var cpu = new SequenceClassifierRewardModel(folder, Precision.FP32);
                var onDevice = new SequenceClassifierRewardModel(folder, Precision.FP32, ComputeDevice.TEST)) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(cpu.score(prompt, responses),
                    onDevice.score(prompt, responses));
        }
    }

    /** Every weight of two saved model folders within {@code tolerance}; the folders hold fp32 masters. */
    static void assertModelsClose(Path a, Path b, double tolerance) throws Exception {
        Map<String, long[]> names = ModelConfig.read(a.resolve("config.json")).expectedTensors();
        try (StepScope scope = StepScope.open()) {
            SafetensorsFile fa = SafetensorsFile.open(a.resolve("model.safetensors"));
            SafetensorsFile fb = SafetensorsFile.open(b.resolve("model.safetensors"));
            int compared = 0;
            for (String name : names.keySet()) {
                if (!fa.tensors().containsKey(name)) {
                    continue;  // a tied lm-head is not stored
                }
                Tensor x = fa.read(name).to(ScalarType.Double), y = fb.read(name).to(ScalarType.Double);
                double d = x.sub(y).abs().max().item_double();
                assertTrue(d <= tolerance, a.getFileName() + " " + name + ": " + d);
                compared++;
            }
            assertTrue(compared > 0);
        }
    }
}
