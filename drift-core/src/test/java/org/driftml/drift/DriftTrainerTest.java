package org.driftml.drift;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.driftml.output.Progress;
import org.driftml.data.Conversation;
import org.driftml.data.DsatMiner;
import org.driftml.data.PreferencePair;
import org.driftml.data.PreferencePairs;
import org.driftml.data.Satisfaction;
import org.driftml.data.Turn;
import org.driftml.model.spec.LoraConfig;
import org.driftml.model.Policy;
import org.driftml.model.spec.Precision;
import org.driftml.train.DpoConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DriftTrainerTest {
    static Path model() throws Exception {
        return Path.of(DriftTrainerTest.class.getResource("/parity/tiny-qwen2-chat").toURI());
    }

    /** Three short logged conversations: 3 DSAT items, 1 DSAT-to-SAT seed, 2 satisfying replies. */
    static DsatMiner.Mined logs() {
        List<Conversation> c = List.of(
                new Conversation("a", List.of(Turn.user("2+2?"), Turn.assistant("5"),
                        Turn.user("wrong", Satisfaction.DSAT), Turn.assistant("4"), Turn.user("thanks", Satisfaction.SAT)),
                        "logs:1"),
                new Conversation("b", List.of(Turn.user("hi"), Turn.assistant("bye"),
                        Turn.user("rude!", Satisfaction.DSAT)), "logs:6"),
                new Conversation("c", List.of(Turn.user("3*3?"), Turn.assistant("6"),
                        Turn.user("no, 9", Satisfaction.DSAT), Turn.assistant("ok"), Turn.user("ok"),
                        Turn.assistant("9"), Turn.user("good", Satisfaction.SAT)), "logs:9"));
        return DsatMiner.mine(c);
    }

    static DriftConfig config() {
        DpoConfig warm = DpoConfig.warmStart().withLearningRate(1e-3).withBatch(1, 1);
        DpoConfig iter = DpoConfig.iteration().withLearningRate(1e-3).withBatch(1, 1);
        return DriftConfig.paper().withIterations(2)
                .withSampling(FeedbackPrompt.Style.TRANSCRIPT, 0.7, 0.9, 6, 2)
                .withLengths(256, 320).withDpo(warm, iter).withRun(Precision.FP32, 0, 1, 7);
    }

    static DriftTrainer quiet(DriftConfig c) {
        return new DriftTrainer(c).progress(Progress.SILENT);
    }

    /**
     * The chunks schedule in bf16: a run killed after the first chunk of iteration 1 samples the rest alone on
     * restart, in the batches an uninterrupted run used, so its pairs are that run's byte for byte (under the
     * continuous schedule the remaining prompt would have joined a batch still decoding the first chunk).
     */
    @Test
    void theChunksScheduleResumesToTheSamePairsInBf16(@TempDir Path dir) throws Exception {
        DriftConfig chunks = config().withIterations(1).withSampleSchedule(DriftConfig.SampleSchedule.CHUNKS)
                .withRun(Precision.BF16, 0, 1, 7);
        DsatMiner.Mined mined = logs();
        Path a = dir.resolve("a"), b = dir.resolve("b");
        quiet(chunks).train(model(), mined, a);
        class Crash extends RuntimeException {}
        assertThrows(Crash.class, () -> quiet(chunks).progress(new Progress() {
            @Override
            public void chunkDone(String stage, int chunk, int chunks) {
                if (stage.equals("iteration-1") && chunk == 1) {
                    throw new Crash();
                }
            }
        }).train(model(), mined, b));
        assertTrue(Files.exists(b.resolve("iteration-1/pairs.progress")));
        assertFalse(Files.exists(b.resolve("iteration-1/summary.json")));
        quiet(chunks).train(model(), mined, b);
        assertEquals(Files.readString(a.resolve("iteration-1/pairs.jsonl")),
                Files.readString(b.resolve("iteration-1/pairs.jsonl")));
        var other = assertThrows(IllegalStateException.class, () -> quiet(chunks.withSampleSchedule(
                DriftConfig.SampleSchedule.CONTINUOUS)).train(model(), mined, b));
        assertTrue(other.getMessage().contains("sample_schedule"), other.getMessage());
    }

    @Test
    void twoIterationsEndToEndThenAgainAfterKillsWithTheSameResult(@TempDir Path dir) throws Exception {
        DsatMiner.Mined mined = logs();
        assertEquals(3, mined.items().size());
        assertEquals(1, mined.seeds().size());

        Path a = dir.resolve("a");
        DriftTrainer.Result ra = quiet(config()).train(model(), mined, a);
        assertEquals(List.of("warmstart", "iteration-1", "iteration-2"),
                ra.stages().stream().map(StageSummary::stage).toList());
        assertEquals(a.resolve("iteration-2"), ra.finalModel());
        for (String stage : new String[] {"warmstart", "iteration-1", "iteration-2"}) {
            for (String f : new String[] {"summary.json", "metrics.jsonl", "model.safetensors", "config.json",
                    "tokenizer.json", "chat_template.jinja", "loss.png", "rewards.png"}) {
                assertTrue(Files.exists(a.resolve(stage).resolve(f)), stage + "/" + f);
            }
        }
        // DRIFT's pairs: rejected is the logged reply the user disliked, trained on x alone; chosen is sampled.
        List<PreferencePair> pairs = PreferencePairs.read(a.resolve("iteration-1/pairs.jsonl"));
        int dropped = ra.stages().get(1).dropped();
        assertEquals(3, pairs.size() + dropped);
        for (PreferencePair p : pairs) {
            var item = mined.items().stream().filter(i -> i.id().equals(p.metadata().get("id"))).findFirst().get();
            assertEquals(item.prompt(), p.prompt());
            assertEquals(item.rejected(), p.rejected());
            assertEquals(item.feedback(), p.metadata().get("feedback"));
            assertNotEquals(item.rejected(), p.chosen());
        }
        // Fresh positives each iteration: iteration 2 samples from the iteration-1 policy with another seed.
        assertNotEquals(Files.readString(a.resolve("iteration-1/pairs.jsonl")),
                Files.readString(a.resolve("iteration-2/pairs.jsonl")));
        assertEquals(pairs.size() + dropped - ra.stages().get(2).dropped(), ra.stages().get(2).marginsEnd().pairs());
        assertTrue(ra.table().contains("iteration-2"), ra.table());

        // Kill mid-generation of iteration 2 (after its first chunk), then mid-training (after step 1 of 2), then
        // finish: the final model and every pair equal the uninterrupted run's.
        Path b = dir.resolve("b");
        class Crash extends RuntimeException {}
        assertThrows(Crash.class, () -> quiet(config()).progress(new Progress() {
            @Override
            public void chunkDone(String stage, int chunk, int chunks) {
                if (stage.equals("iteration-2") && chunk == 1) {
                    throw new Crash();
                }
            }
        }).train(model(), mined, b));
        assertFalse(Files.exists(b.resolve("iteration-2/summary.json")));
        assertThrows(Crash.class, () -> quiet(config()).progress(new Progress() {
            @Override
            public void stepDone(String stage, int step) {
                if (stage.equals("iteration-2") && step == 1) {
                    throw new Crash();
                }
            }
        }).train(model(), mined, b));
        DriftTrainer.Result rb = quiet(config()).train(model(), mined, b);
        for (String stage : new String[] {"warmstart", "iteration-1", "iteration-2"}) {
            assertEquals(-1L, Files.mismatch(a.resolve(stage).resolve("model.safetensors"),
                    b.resolve(stage).resolve("model.safetensors")), stage);
        }
        assertEquals(Files.readString(a.resolve("iteration-2/pairs.jsonl")),
                Files.readString(b.resolve("iteration-2/pairs.jsonl")));
        assertEquals(Files.readAllLines(a.resolve("iteration-2/metrics.jsonl")).size(),
                Files.readAllLines(b.resolve("iteration-2/metrics.jsonl")).size());
        assertEquals(ra.stages().get(2).lossLast(), rb.stages().get(2).lossLast());

        // The folder belongs to its run: other settings are refused, naming what differs.
        var e = assertThrows(IllegalStateException.class,
                () -> quiet(config().withMethod(DriftConfig.Method.SPIN)).train(model(), mined, b));
        assertTrue(e.getMessage().contains("method"), e.getMessage());
        var hotter = assertThrows(IllegalStateException.class, () -> quiet(config()
                .withSampling(FeedbackPrompt.Style.TRANSCRIPT, 0.9, 0.9, 6, 2)).train(model(), mined, b));
        assertTrue(hotter.getMessage().contains("(its recipe.temperature (0.7 there, 0.9 here) differs)"),
                hotter.getMessage());
    }

    /**
     * DRIFT with LoRA: each stage trains fresh adapters on the model it starts from and leaves, beside them, the
     * merged model the next stage starts from; a run killed mid-training resumes to the same files, and the folder
     * refuses a run with other adapter settings.
     */
    @Test
    void loraStagesMergeTheirAdaptersAndResumeToTheSameModel(@TempDir Path dir) throws Exception {
        DsatMiner.Mined mined = logs();
        DriftConfig lora = config().withIterations(1).withLora(LoraConfig.of(4, 8, LoraConfig.ALL_LINEAR));
        Path a = dir.resolve("a");
        DriftTrainer.Result ra = quiet(lora).train(model(), mined, a);
        assertEquals(a.resolve("iteration-1"), ra.finalModel());
        for (String stage : new String[] {"warmstart", "iteration-1"}) {
            for (String f : new String[] {"adapter_config.json", "adapter_model.safetensors", "model.safetensors",
                    "config.json", "summary.json"}) {
                assertTrue(Files.exists(a.resolve(stage).resolve(f)), stage + "/" + f);
            }
        }
        // The merged model is the stage's start plus its adapters.
        long[] ids = {257, 85, 83, 68, 81, 198, 72, 72};
        try (Policy start = Policy.load(a.resolve("warmstart"), Precision.FP32);
                Policy merged = Policy.load(a.resolve("iteration-1"), Precision.FP32)) {
            double before = start.decoder().completionLogprob(ids, 4);
            start.loadAdapters(a.resolve("iteration-1"));
            double adapted = start.decoder().completionLogprob(ids, 4);
            assertEquals(adapted, merged.decoder().completionLogprob(ids, 4), 1e-4);
            assertTrue(Math.abs(adapted - before) > 1e-5, "iteration-1's adapters trained");
        }
        Path b = dir.resolve("b");
        class Crash extends RuntimeException {}
        assertThrows(Crash.class, () -> quiet(lora).progress(new Progress() {
            @Override
            public void stepDone(String stage, int step) {
                if (stage.equals("iteration-1") && step == 1) {
                    throw new Crash();
                }
            }
        }).train(model(), mined, b));
        quiet(lora).train(model(), mined, b);
        for (String f : new String[] {"model.safetensors", "adapter_model.safetensors"}) {
            assertEquals(-1L, Files.mismatch(a.resolve("iteration-1").resolve(f), b.resolve("iteration-1").resolve(f)),
                    f);
        }
        var other = assertThrows(IllegalStateException.class, () -> quiet(config().withIterations(1)
                .withLora(LoraConfig.of(8, 8, LoraConfig.ALL_LINEAR))).train(model(), mined, b));
        assertTrue(other.getMessage().contains("lora"), other.getMessage());
    }

    @Test
    void spinAndIterDpoBuildTheirPairsAsDescribed(@TempDir Path dir) throws Exception {
        DsatMiner.Mined mined = logs();
        DriftConfig one = config().withIterations(1).withDpo(null, config().iteration());

        quiet(one.withMethod(DriftConfig.Method.SPIN)).train(model(), mined, dir.resolve("spin"));
        List<PreferencePair> spin = PreferencePairs.read(dir.resolve("spin/iteration-1/pairs.jsonl"));
        assertFalse(Files.exists(dir.resolve("spin/warmstart")));
        for (PreferencePair p : spin) {
            var sat = mined.satisfying().stream().filter(s -> s.id().equals(p.metadata().get("id"))).findFirst().get();
            assertEquals(sat.prompt(), p.prompt());
            assertEquals(sat.reply(), p.chosen());  // the reply the user was satisfied with
            assertNotEquals(sat.reply(), p.rejected());  // a policy sample
            assertEquals("spin", p.metadata().get("method"));
        }

        quiet(one.withMethod(DriftConfig.Method.ITERDPO)).train(model(), mined, dir.resolve("iterdpo"));
        List<PreferencePair> iter = PreferencePairs.read(dir.resolve("iterdpo/iteration-1/pairs.jsonl"));
        assertFalse(iter.isEmpty());
        for (PreferencePair p : iter) {
            var item = mined.items().stream().filter(i -> i.id().equals(p.metadata().get("id"))).findFirst().get();
            assertEquals(item.prompt(), p.prompt());
            // Both responses are samples: neither is the logged reply (which IterDPO never trains on).
            assertNotEquals(item.rejected(), p.rejected());
            assertNotEquals(p.chosen(), p.rejected());
            assertEquals("iterdpo", p.metadata().get("method"));
        }
    }

    @Test
    void theReleasedTranscriptPrompt() {
        String t = FeedbackPrompt.transcript(List.of(org.driftml.text.ChatMessage.user("2+2?")), "5", "wrong");
        assertEquals("You are a helpful assistant.\n\nUser: 2+2?\n\nAssistant: 5\n\nUser: wrong\n\nSystem: Based on "
                + "the user's latest feedback, please provide an improved response that addresses their concerns."
                + "\n\nAssistant: ", t);
        var chat = FeedbackPrompt.chat(List.of(org.driftml.text.ChatMessage.user("2+2?")), "5", "wrong");
        assertEquals(List.of("user", "assistant", "user", "system"),
                chat.stream().map(org.driftml.text.ChatMessage::role).toList());
    }

    @Test
    void marginDiagnosticsQuantilesAndLemmaShare() {
        var d = MarginDiagnostics.of(new double[] {-2, 0, 1, 3, 10}, List.of(0.1, 0.5));
        assertEquals(2.4, d.mean(), 1e-12);
        assertEquals(-2, d.quantiles()[0]);
        assertEquals(1, d.quantiles()[3]);  // median
        assertEquals(10, d.quantiles()[6]);
        // sigma(-s) >= 0.5 iff s <= 0: two of five; sigma(-s) >= 0.1 iff s <= ln 9 = 2.197: three of five.
        assertEquals(0.4, d.shareAbove().get(0.5), 1e-12);
        assertEquals(0.6, d.shareAbove().get(0.1), 1e-12);
    }
}
