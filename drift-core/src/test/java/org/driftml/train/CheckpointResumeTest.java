package org.driftml.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointResumeTest {
    static final DpoConfig CONFIG = DpoTrainerTest.fast(3e-4, 4, 1, 2).withBatch(4, 2);

    static DpoTrainer trainer(Decoder policy) {
        return new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()), CONFIG, 0, 11);
    }

    @Test
    void aRunKilledAndResumedEndsBitForBitWhereAnUninterruptedOneDoes(@TempDir Path dir) throws Exception {
        List<PairTokenizer.TokenizedPair> data = DpoTrainerTest.pairs(12, 6);  // 3 steps per epoch, 6 in all
        try (StepScope scope = StepScope.open()) {
            Decoder uninterrupted = DpoTrainerTest.policy();
            List<Map<String, Double>> full = trainer(uninterrupted).train(data, dir.resolve("a"), 2, Integer.MAX_VALUE);
            assertEquals(6, full.size());

            Decoder first = DpoTrainerTest.policy();
            killedAfter(trainer(first), 3, data, dir.resolve("b"));  // last checkpoint at step 2
            assertTrue(Files.exists(dir.resolve("b/checkpoint-2/model.safetensors")));
            assertFalse(Files.exists(dir.resolve("b/checkpoint-4")));

            Decoder resumed = DpoTrainerTest.policy();
            List<Map<String, Double>> rest = trainer(resumed).train(data, dir.resolve("b"), 2, Integer.MAX_VALUE);
            assertEquals(4, rest.size(), "resumes at step 3 of 6");
            assertEquals(full.get(5).get("loss"), rest.get(3).get("loss"));
            for (String name : uninterrupted.weights().keySet()) {
                assertTrue(torch.equal(uninterrupted.weights().get(name), resumed.weights().get(name)), name);
            }
            // The final checkpoint is a model folder that loads as it is.
            Decoder saved = Decoder.load(dir.resolve("b/checkpoint-6"), ScalarType.Float);
            assertTrue(torch.equal(saved.weights().get("model.norm.weight"), resumed.weights().get("model.norm.weight")));
        }
    }

    /** Trains until step {@code n} is done, then stops as a killed process would: nothing more is written. */
    static void killedAfter(DpoTrainer t, int n, List<PairTokenizer.TokenizedPair> data, Path output)
            throws Exception {
        final class Killed extends RuntimeException {}
        t.afterStep(step -> {
            if (step == n) {
                throw new Killed();
            }
        });
        try {
            t.train(data, output, 2, Integer.MAX_VALUE);
            throw new AssertionError("not killed");
        } catch (Killed expected) {
            // as a SIGKILL after step n's checkpoint decision
        }
    }

    @Test
    void anUnfinishedCheckpointIsIgnored(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("checkpoint-9.tmp"));
        Files.createDirectories(dir.resolve("checkpoint-8"));  // no trainer_state.json: never completed
        assertTrue(TrainingCheckpoint.latest(dir).isEmpty());
    }

    @Test
    void aNanStopsTrainingAndTheLastGoodCheckpointStays(@TempDir Path dir) throws Exception {
        List<PairTokenizer.TokenizedPair> data = DpoTrainerTest.pairs(12, 7);
        try (StepScope scope = StepScope.open()) {
            Decoder policy = DpoTrainerTest.policy();
            DpoTrainer t = trainer(policy);
            t.train(data, dir, 2, 2);
            Tensor norm = policy.weights().get("model.norm.weight");
            org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard();
            norm.fill_(new Scalar(Double.NaN));
            g.close();
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> t.train(data, dir.resolve("elsewhere"), 2, Integer.MAX_VALUE));
            assertTrue(e.getMessage().matches("step \\d+: the loss is NaN; stopping before it reaches the weights"),
                    e.getMessage());
            Decoder good = Decoder.load(dir.resolve("checkpoint-2"), ScalarType.Float);
            assertFalse(good.weights().get("model.norm.weight").isnan().any().item_bool(), "checkpoint-2 is intact");
        }
    }
}
