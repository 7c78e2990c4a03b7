package org.driftml.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.driftml.report.StepMetrics;
import org.driftml.kernels.PreferenceLoss;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a TRL user expects of a run's steps, schedule, batches and checkpoints. */
class TrainingDetailsTest {
    private static DpoConfig config(double lr, double warmup, int batch, int epochs) {
        return DpoConfig.iteration().with(DpoConfig.RPO_ALPHA, 0.0).with(DpoConfig.LEARNING_RATE, lr)
                .with(DpoConfig.WARMUP_RATIO, warmup).withBatch(batch, 1).withEpochs(epochs);
    }

    @Test
    void maxStepsSizesTheScheduleAndEndsWithACheckpoint(@TempDir Path dir) throws Exception {
        try (StepScope scope = StepScope.open()) {
            Decoder policy = DpoTrainerTest.policy();
            // 8 pairs, batch 2, 1 epoch: 4 steps; told 3. transformers' linear schedule over 3 steps with warmup
            // ceil(0.1 x 3) = 1: lr x [0/1, (3-1)/(3-1), (3-2)/(3-1)] = [0, 1e-3, 5e-4]. Sized by the epoch's 4
            // steps instead, the third would be 1e-3 x 2/3.
            DpoTrainer t = new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()), config(1e-3, 0.1, 2, 1),
                    0, 1);
            List<StepMetrics> steps = t.train(DpoTrainerTest.pairs(8, 3), dir, 0, 3);
            assertEquals(3, steps.size());
            assertEquals(0.0, steps.get(0).get("learning_rate"), 1e-15);
            assertEquals(1e-3, steps.get(1).get("learning_rate"), 1e-15);
            assertEquals(5e-4, steps.get(2).get("learning_rate"), 1e-15);
            assertTrue(Files.isDirectory(dir.resolve("checkpoint-3")), "the stopped run's checkpoint");
            // Asked for more steps than the epochs hold, it runs more epochs (TRL's max_steps overrides them).
            DpoTrainer longer = new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()),
                    config(1e-3, 0.0, 2, 1), 0, 1);
            assertEquals(6, longer.train(DpoTrainerTest.pairs(8, 3), null, 0, 6).size());
        }
    }

    @Test
    void everyEpochDrawsNewBatchesThatCoverEachPairOnce() throws Exception {
        try (StepScope scope = StepScope.open()) {
            Decoder policy = DpoTrainerTest.policy();
            DpoTrainer t = new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()), config(1e-3, 0, 2, 4), 0,
                    7);
            List<PairTokenizer.TokenizedPair> pairs = DpoTrainerTest.pairs(32, 4);
            Set<Set<Set<Integer>>> compositions = new HashSet<>();
            for (int epoch = 0; epoch < 4; epoch++) {
                List<List<Integer>> batches = t.batches(pairs, epoch);
                List<Integer> all = new ArrayList<>();
                Set<Set<Integer>> composition = new HashSet<>();
                for (List<Integer> b : batches) {
                    assertEquals(2, b.size());
                    all.addAll(b);
                    composition.add(Set.copyOf(b));
                }
                all.sort(Integer::compare);
                assertEquals(java.util.stream.IntStream.range(0, 32).boxed().toList(), all, "epoch " + epoch);
                compositions.add(composition);
                assertEquals(batches, t.batches(pairs, epoch), "the same seed and epoch, the same batches");
            }
            assertEquals(4, compositions.size(), "each epoch's batches are new");
        }
    }

    @Test
    void checkpointsHoldTheMastersOnceAndOnlyTheNewestAreKept(@TempDir Path dir) throws Exception {
        try (StepScope scope = StepScope.open()) {
            Decoder policy = DpoTrainerTest.policy();
            DpoTrainer t = new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()), config(1e-3, 0, 2, 1), 0,
                    1).keepCheckpoints(2);
            t.train(DpoTrainerTest.pairs(8, 5), dir, 1, Integer.MAX_VALUE);
            List<String> left;
            try (Stream<Path> s = Files.list(dir)) {
                left = s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("checkpoint-")).sorted()
                        .toList();
            }
            assertEquals(List.of("checkpoint-3", "checkpoint-4"), left);
            SafetensorsFile optimizer = SafetensorsFile.open(dir.resolve("checkpoint-4/optimizer.safetensors"));
            assertFalse(optimizer.tensors().keySet().stream().anyMatch(n -> n.startsWith("master.")),
                    optimizer.tensors().keySet().toString());
            assertEquals(policy.weights().size(), optimizer.tensors().size(), "one square average per weight");
        }
    }

    @Test
    void aResumeRestoresTheMastersFromTheCheckpointsModel(@TempDir Path dir) throws Exception {
        List<PairTokenizer.TokenizedPair> data = DpoTrainerTest.pairs(8, 9);
        StepMetrics whole, resumed;
        try (StepScope scope = StepScope.open()) {
            Decoder policy = DpoTrainerTest.policy();
            whole = new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()), config(1e-3, 0, 2, 1), 0, 1)
                    .train(data, null, 0, Integer.MAX_VALUE).get(3);
        }
        try (StepScope scope = StepScope.open()) {
            Decoder policy = DpoTrainerTest.policy();
            CheckpointResumeTest.killedAfter(new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()),
                    config(1e-3, 0, 2, 1), 0, 1), 3, data, dir);  // checkpoint-2 is the newest
        }
        try (StepScope scope = StepScope.open()) {
            Decoder policy = DpoTrainerTest.policy();
            Decoder reference = policy.frozenCopy();  // the initial policy, as the first run's
            List<StepMetrics> rest = new DpoTrainer(policy, new FrozenReference(reference),
                    config(1e-3, 0, 2, 1), 0, 1).train(data, dir, 1, Integer.MAX_VALUE);
            resumed = rest.get(rest.size() - 1);
        }
        assertEquals(4.0, resumed.get("step"));
        assertEquals(whole.get("loss"), resumed.get("loss"), 0.0, "bit for bit");
        assertEquals(whole.get("grad_norm"), resumed.get("grad_norm"), 0.0);
        assertNotEquals(0.0, whole.get("learning_rate"));
    }
}
