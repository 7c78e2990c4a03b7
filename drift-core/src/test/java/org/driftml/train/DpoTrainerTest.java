package org.driftml.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.report.StepMetrics;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The DPO engine on the tiny Qwen2 fixture with synthetic pairs of token ids. */
class DpoTrainerTest {
    static Path tinyQwen2() throws URISyntaxException {
        return Path.of(DpoTrainerTest.class.getResource("/parity/tiny-qwen2").toURI());
    }

    static Decoder policy() throws IOException, URISyntaxException {
        return Decoder.load(tinyQwen2(), ScalarType.Float);
    }

    /** Pairs of random ids with varied lengths, the same for a given seed. */
    static List<PairTokenizer.TokenizedPair> pairs(int n, long seed) {
        Random r = new Random(seed);
        List<PairTokenizer.TokenizedPair> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new PairTokenizer.TokenizedPair(ids(r, 4 + r.nextInt(5)), ids(r, 3 + r.nextInt(4)),
                    ids(r, 3 + r.nextInt(4)), false));
        }
        return out;
    }

    private static long[] ids(Random r, int n) {
        long[] a = new long[n];
        for (int i = 0; i < n; i++) {
            a[i] = 3 + r.nextInt(250);
        }
        return a;
    }

    static DpoConfig fast(double lr, int batch, int accumulation, int epochs) {
        return DpoConfig.iteration().with(DpoConfig.RPO_ALPHA, 0.0).withLearningRate(lr)
                .with(DpoConfig.WARMUP_RATIO, 0.0).withBatch(batch, accumulation).withEpochs(epochs);
    }

    @Test
    void theFirstSigmoidLossWithPolicyEqualToReferenceIsLn2() throws Exception {
        try (StepScope scope = StepScope.open()) {
            Decoder policy = policy();
            DpoTrainer t = new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()), fast(1e-3, 4, 1, 1), 0, 1);
            StepMetrics m = t.train(pairs(4, 1)).get(0);
            assertEquals(Math.log(2), m.get("loss"), 1e-6);
            assertEquals(0.0, m.get("rewards/margins"), 1e-6);
        }
    }

    @Test
    void lossFallsAndMarginsRiseOverSteps() throws Exception {
        try (StepScope scope = StepScope.open()) {
            Decoder policy = policy();
            List<StepMetrics> log = new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()),
                    fast(2e-4, 4, 1, 6), 0, 1).train(pairs(8, 2));
            assertEquals(12, log.size());
            double firstLoss = log.get(0).get("loss"), lastLoss = (log.get(10).get("loss") + log.get(11).get("loss")) / 2;
            double lastMargin = (log.get(10).get("rewards/margins") + log.get(11).get("rewards/margins")) / 2;
            assertTrue(lastLoss < firstLoss - 0.05, "loss " + firstLoss + " -> " + lastLoss);
            assertTrue(lastMargin > 0.5, "margin rose to " + lastMargin);
            assertTrue(log.get(11).get("rewards/accuracies") > 0.5);
            assertTrue(log.get(0).get("padding_fraction") >= 0 && log.get(0).get("padding_fraction") < 0.5);
        }
    }

    @Test
    void precomputedReferenceGivesTheSameLossesAsTheFrozenCopy() throws Exception {
        List<PairTokenizer.TokenizedPair> data = pairs(8, 3);
        List<Double> losses = new ArrayList<>();
        for (boolean precompute : new boolean[] {false, true}) {
            try (StepScope scope = StepScope.open()) {
                Decoder policy = policy();
                ReferencePolicy frozen = new FrozenReference(policy.frozenCopy());
                ReferencePolicy ref = precompute ? PrecomputedReference.compute(frozen, data, 0, 3) : frozen;
                for (StepMetrics m : new DpoTrainer(policy, ref, fast(1e-4, 4, 1, 2), 0, 5).train(data)) {
                    losses.add(m.get("loss"));
                }
            }
        }
        int half = losses.size() / 2;
        for (int i = 0; i < half; i++) {
            assertEquals(losses.get(i), losses.get(half + i), 1e-5, "step " + i);
        }
    }

    /** One batch's forward and backward from a fresh policy: its metrics and every weight's gradient. */
    private record OneBatch(StepMetrics metrics, Map<String, Tensor> grads) {
        /** Largest gradient difference to {@code other}, relative to this gradient's largest entry, by weight. */
        Map<String, Double> gradientDifferences(OneBatch other) {
            Map<String, Double> out = new LinkedHashMap<>();
            grads.forEach((name, a) -> out.put(name, a.sub(other.grads.get(name)).abs().max().item_double()
                    / Math.max(1e-6, a.abs().max().item_double())));
            return out;
        }
    }

    private static OneBatch oneBatch(List<PairTokenizer.TokenizedPair> data, DpoConfig config) throws Exception {
        return oneBatch(data, List.of(0, 1, 2, 3), config);
    }

    private static OneBatch oneBatch(List<PairTokenizer.TokenizedPair> data, List<Integer> batch, DpoConfig config)
            throws Exception {
        Decoder policy = policy();
        DpoTrainer t = new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()), config, 0, 1);
        StepMetrics metrics = t.accumulate(data, batch, 0);
        Map<String, Tensor> g = new LinkedHashMap<>();
        policy.weights().forEach((name, w) -> g.put(name, w.grad().detach().clone()));
        return new OneBatch(metrics, g);
    }

    @Test
    void accumulating2x2EqualsOneBatchOf4() throws Exception {
        List<PairTokenizer.TokenizedPair> data = pairs(4, 4);
        try (StepScope scope = StepScope.open()) {
            OneBatch whole = oneBatch(data, fast(1e-4, 4, 1, 1)), halves = oneBatch(data, fast(1e-4, 4, 2, 1));
            assertEquals(whole.metrics().get("loss"), halves.metrics().get("loss"), 1e-6);
            assertEquals(2.0, halves.metrics().get("micro_batches"));
            whole.gradientDifferences(halves).forEach((name, d) -> assertTrue(d < 1e-4, name + ": " + d));
        }
    }

    /**
     * With RPO on, accumulation is TRL's: the loss of each micro-batch (its mean DPO loss plus alpha times its
     * chosen tokens' mean NLL), averaged over the micro-batches, as the Trainer divides each micro-batch's loss by
     * the accumulation steps. So 2 x 2 equals the mean of the two halves trained as batches of their own; it is not
     * one batch of 4 when the halves hold different numbers of chosen tokens (the NLL's token mean then weighs them
     * differently).
     */
    @Test
    void withRpoAccumulationAveragesTheMicroBatchesAsTrlDoes() throws Exception {
        List<PairTokenizer.TokenizedPair> data = pairs(4, 4);
        assertNotEquals(data.get(0).chosen().length + data.get(1).chosen().length,
                data.get(2).chosen().length + data.get(3).chosen().length, "halves of unequal chosen lengths");
        try (StepScope scope = StepScope.open()) {
            DpoConfig rpo = fast(1e-4, 4, 2, 1).withBeta(0.1, 0.5);
            OneBatch accumulated = oneBatch(data, rpo);
            OneBatch first = oneBatch(data, List.of(0, 1), rpo.withBatch(2, 1));
            OneBatch second = oneBatch(data, List.of(2, 3), rpo.withBatch(2, 1));
            OneBatch whole = oneBatch(data, fast(1e-4, 4, 1, 1).withBeta(0.1, 0.5));
            double mean = (first.metrics().get("loss") + second.metrics().get("loss")) / 2;
            assertEquals(mean, accumulated.metrics().get("loss"), 1e-6);
            assertTrue(Math.abs(whole.metrics().get("loss") - mean) > 1e-4, "one batch of 4 weighs tokens otherwise: "
                    + whole.metrics().get("loss") + " vs " + mean);
            accumulated.grads().forEach((name, g) -> {
                Tensor expected = first.grads().get(name).add(second.grads().get(name)).div(new Scalar(2));
                double d = g.sub(expected).abs().max().item_double() / Math.max(1e-6, expected.abs().max().item_double());
                assertTrue(d < 1e-4, name + ": " + d);
            });
        }
    }

    @Test
    void gradientCheckpointingGivesTheSameGradientsAsKeepingActivations() throws Exception {
        List<PairTokenizer.TokenizedPair> data = pairs(4, 4);
        try (StepScope scope = StepScope.open()) {
            OneBatch kept = oneBatch(data, fast(1e-4, 4, 2, 1));
            OneBatch recomputed = oneBatch(data, fast(1e-4, 4, 2, 1).withGradientCheckpointing(true));
            assertEquals(kept.metrics().get("loss"), recomputed.metrics().get("loss"), 1e-6);
            // The recomputed layers repeat the same fp32 operations: only the accumulation order of the
            // embedding's gradient (lm-head part and input part) may differ.
            kept.gradientDifferences(recomputed).forEach((name, d) -> assertTrue(d < 1e-5, name + ": " + d));
        }
    }

    /**
     * Checkpointed bf16 training makes the lm-head's gradient at the update (LmHeadGradient) and takes the steps of
     * holding it, bit for bit: losses, gradient norms, every weight and master. A tied lm-head (Qwen2: the
     * embedding's rows are made at the update too) and an untied one (Llama), two micro-batches per step.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-qwen2", "tiny-llama"})
    void anLmHeadGradientMadeAtTheUpdateTakesTheStepsOfHoldingIt(String fixture) throws Exception {
        Path model = Path.of(getClass().getResource("/parity/" + fixture).toURI());
        try (StepScope scope = StepScope.open()) {
            Map<String, Tensor> heldWeights = new LinkedHashMap<>(), madeWeights = new LinkedHashMap<>();
            List<StepMetrics> held = checkpointedBf16(model, true, heldWeights);
            List<StepMetrics> made = checkpointedBf16(model, false, madeWeights);
            assertEquals(held.size(), made.size());
            for (int i = 0; i < held.size(); i++) {
                assertEquals(held.get(i).get("loss"), made.get(i).get("loss"), 0.0, "loss at step " + i);
                assertEquals(held.get(i).get("grad_norm"), made.get(i).get("grad_norm"), 0.0, "norm at step " + i);
            }
            assertEquals(heldWeights.keySet(), madeWeights.keySet());
            heldWeights.forEach((name, w) -> assertTrue(torch.equal(w, madeWeights.get(name)), name));
        }
    }

    /** Four steps of checkpointed bf16 DPO; the weights and masters after them into {@code after}. */
    private static List<StepMetrics> checkpointedBf16(Path model, boolean holdLmHead,
            Map<String, Tensor> after) throws Exception {
        Decoder policy = Decoder.load(model, ScalarType.BFloat16);
        try (DpoTrainer t = new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()),
                fast(1e-4, 4, 2, 2).withGradientCheckpointing(true), 0, 1)) {
            if (holdLmHead) {
                TrainerInternals.holdLmHeadGradient(t);
            }
            assertEquals(!holdLmHead, TrainerInternals.makesLmHeadGradientAtUpdate(t));
            List<StepMetrics> log = t.train(pairs(8, 5));
            policy.weights().forEach((name, w) -> after.put(name, w.clone()));
            TrainerInternals.masters(t).forEach((name, m) -> after.put("master." + name, m.clone()));
            return log;
        }
    }

    /** DRIFT's precision: bf16 compute over fp32 masters, at a learning rate whose steps bf16 weights would lose. */
    @Test
    void bf16ComputeTrainsFp32MastersThatKeepMoving() throws Exception {
        try (StepScope scope = StepScope.open()) {
            Decoder policy = Decoder.load(tinyQwen2(), ScalarType.BFloat16);
            Map<String, Tensor> before = new LinkedHashMap<>();
            policy.weights().forEach((n, w) -> before.put(n, w.to(ScalarType.Float).clone()));
            DpoTrainer t = new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()), fast(1e-5, 4, 1, 3), 0, 1);
            List<StepMetrics> log = t.train(pairs(8, 9));
            assertTrue(log.get(log.size() - 1).get("loss") < log.get(0).get("loss"), "loss falls in bf16 too");
            int moved = 0;
            for (Map.Entry<String, Tensor> e : TrainerInternals.masters(t).entrySet()) {
                Tensor master = e.getValue();
                assertEquals("Float", master.scalar_type().toString(), "masters are fp32");
                if (master.sub(before.get(e.getKey())).abs().max().item_double() > 0) {
                    moved++;
                }
                // The compute copy is the master rounded to bf16, refreshed after every update. The split master
                // rounds exact ties (low 16 bits 0x8000) away from zero, where the cast rounds to even.
                Tensor offTie = master.view(ScalarType.Int).bitwise_and(new Scalar(0xFFFF)).ne(new Scalar(0x8000));
                Tensor w = policy.weights().get(e.getKey());
                assertTrue(torch.equal(w.masked_select(offTie), master.to(ScalarType.BFloat16).masked_select(offTie)),
                        e.getKey());
            }
            assertEquals(TrainerInternals.masters(t).size(), moved, "every fp32 master moved at lr 1e-5");
        }
    }

    @Test
    void theScheduleWarmsUpThenDecaysLikeTransformers() {
        LinearSchedule s = LinearSchedule.of(5e-7, 20, 0.1);
        assertEquals(2, s.warmupSteps());
        assertEquals(0.0, s.at(0));
        assertEquals(2.5e-7, s.at(1), 1e-20);
        assertEquals(5e-7, s.at(2), 1e-20);
        assertEquals(5e-7 * 9 / 18, s.at(11), 1e-20);
        assertEquals(0.0, s.at(20));
    }

    @Test
    void bf16ComputeCanContinueFromGivenFp32Masters() throws Exception {
        try (StepScope scope = StepScope.open()) {
            Decoder bf16 = Decoder.load(tinyQwen2(), ScalarType.BFloat16);
            Map<String, org.bytedeco.pytorch.Tensor> fp32 = Decoder.load(tinyQwen2(), ScalarType.Float).weights();
            DpoTrainer fromGiven = new DpoTrainer(bf16, new FrozenReference(bf16.frozenCopy()), fast(1e-5, 2, 1, 1),
                    0, 1, fp32);
            DpoTrainer fromCopies = new DpoTrainer(bf16, new FrozenReference(bf16.frozenCopy()), fast(1e-5, 2, 1, 1),
                    0, 1);
            String name = "model.layers.0.mlp.up_proj.weight";
            assertTrue(TrainerInternals.masters(fromGiven).get(name).equal(fp32.get(name)));
            // The bf16 copies are the fp32 values rounded: starting from them would lose what the rounding drops.
            assertFalse(TrainerInternals.masters(fromCopies).get(name).equal(fp32.get(name)));
        }
    }
}
