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
import org.driftml.report.StepMetrics;
import org.driftml.output.Progress;
import org.driftml.kernels.StepScope;
import org.driftml.model.spec.LoraConfig;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.LoraAdapters;
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
            List<StepMetrics> full = trainer(uninterrupted).train(data, dir.resolve("a"), 2, Integer.MAX_VALUE);
            assertEquals(6, full.size());

            Decoder first = DpoTrainerTest.policy();
            killedAfter(trainer(first), 3, data, dir.resolve("b"));  // last checkpoint at step 2
            assertTrue(Files.exists(dir.resolve("b/checkpoint-2/model.safetensors")));
            assertFalse(Files.exists(dir.resolve("b/checkpoint-4")));

            Decoder resumed = DpoTrainerTest.policy();
            List<StepMetrics> rest = trainer(resumed).train(data, dir.resolve("b"), 2, Integer.MAX_VALUE);
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

    /** A policy with fresh LoRA adapters (r 4 on q and v, seed 5) and its base-model reference. */
    static DpoTrainer loraTrainer(Decoder policy) {
        policy.attach(LoraAdapters.create(policy, LoraConfig.of(4, 8, "q_proj", "v_proj"), 5));
        return new DpoTrainer(policy, new BaseModelReference(policy), CONFIG, 0, 11);
    }

    /**
     * Under LoRA a checkpoint is the adapters in PEFT's format plus the optimiser's state, and a killed run resumes
     * to the same adapters bit for bit; the base weights never change and hold no gradients.
     */
    @Test
    void aLoraRunKilledAndResumedEndsBitForBitWithTheBaseUntouched(@TempDir Path dir) throws Exception {
        List<PairTokenizer.TokenizedPair> data = DpoTrainerTest.pairs(12, 6);
        try (StepScope scope = StepScope.open()) {
            Decoder base = DpoTrainerTest.policy();
            Decoder uninterrupted = DpoTrainerTest.policy();
            List<StepMetrics> full = loraTrainer(uninterrupted).train(data, dir.resolve("a"), 2,
                    Integer.MAX_VALUE);
            killedAfter(loraTrainer(DpoTrainerTest.policy()), 3, data, dir.resolve("b"));
            assertTrue(Files.exists(dir.resolve("b/checkpoint-2/" + LoraAdapters.WEIGHTS_FILE)));
            assertFalse(Files.exists(dir.resolve("b/checkpoint-2/model.safetensors")), "no full model under LoRA");
            Decoder resumed = DpoTrainerTest.policy();
            List<StepMetrics> rest = loraTrainer(resumed).train(data, dir.resolve("b"), 2,
                    Integer.MAX_VALUE);
            assertEquals(4, rest.size(), "resumes at step 3 of 6");
            assertEquals(full.get(5).get("loss"), rest.get(3).get("loss"));
            Map<String, Tensor> want = uninterrupted.adapters().weights(), got = resumed.adapters().weights();
            for (String name : want.keySet()) {
                assertTrue(torch.equal(want.get(name), got.get(name)), name);
            }
            Tensor b = want.get("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
            assertTrue(b.abs().max().item_double() > 0, "the adapters trained (B moved off zero)");
            for (String name : base.weights().keySet()) {
                Tensor w = resumed.weights().get(name);
                assertTrue(torch.equal(base.weights().get(name), w), name + " is frozen");
                assertFalse(w.requires_grad() || w.grad().defined(), name + " takes no gradient");
            }
        }
    }

    /** Trains until step {@code n} is done, then stops as a killed process would: nothing more is written. */
    static void killedAfter(DpoTrainer t, int n, List<PairTokenizer.TokenizedPair> data, Path output)
            throws Exception {
        final class Killed extends RuntimeException {}
        t.progress("dpo", new Progress() {
            @Override
            public void stepDone(String stage, int step) {
                if (step == n) {
                    throw new Killed();
                }
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
