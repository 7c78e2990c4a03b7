package org.driftml.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ContinuousBatcherTest {
    private static final ContinuousBatcher.Limits FOUR = new ContinuousBatcher.Limits(4, 64, 16, 256);

    private static List<Sampler.Settings> each(Sampler.Settings s, int n) {
        return Collections.nCopies(n, s);
    }

    /**
     * A seeded request alone gives exactly the static sampler's reply, token for token and log-prob for log-prob: the
     * same shapes, the same kernels, the same draws from its own generator. Over fp32 and bf16 weights, greedy and
     * every sampling filter.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-qwen2", "tiny-llama", "tiny-qwen2-bf16"})
    void aRequestAloneIsExactlyTheStaticSamplersReply(String model) throws IOException {
        SamplerTest.Reference ref = SamplerTest.reference(model.startsWith("tiny-llama") ? "llama" : "qwen2");
        Sampler.Settings[] settings = {
            Sampler.Settings.greedy(12, Set.of()),
            Sampler.Settings.sampling(0.7, 0.9, 12, Set.of(), 1234),
            new Sampler.Settings(false, 0.8, 1.0, 5, 1.3, 12, Set.of(), 77),
            new Sampler.Settings(true, 1.0, 1.0, 0, 5.0, 12, Set.of(), 0)};
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder(model),
                    model.endsWith("bf16") ? ScalarType.BFloat16 : ScalarType.Float);
            Sampler sampler = new Sampler(decoder, 0);
            try (ContinuousBatcher batcher = new ContinuousBatcher(decoder, 0, FOUR)) {
                for (Sampler.Settings s : settings) {
                    for (long[] prompt : ref.prompts()) {
                        Sampler.Generation want = sampler.generate(List.of(prompt), s).get(0);
                        Sampler.Generation got = batcher.generate(List.of(prompt), List.of(s)).get(0);
                        assertArrayEquals(want.outputIds(), got.outputIds(), model + " " + s);
                        assertArrayEquals(want.logprobs(), got.logprobs(), 0f, model + " " + s);
                        assertEquals(want.stopped(), got.stopped());
                    }
                }
            }
        }
    }

    /**
     * Prompts of different lengths decoded together (a ragged batch: each row writes and attends at its own length)
     * give transformers' greedy continuations (scripts/parity/make_fixtures.py), as the static batch does.
     */
    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void raggedRowsDecodeAsTransformersDoes(String kind) throws IOException {
        SamplerTest.Reference ref = SamplerTest.reference(kind);
        assertTrue(ref.prompts().get(0).length != ref.prompts().get(1).length, "the fixture's prompts differ in length");
        try (StepScope step = StepScope.open();
                ContinuousBatcher batcher = new ContinuousBatcher(
                        Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float), 0, FOUR)) {
            List<Sampler.Generation> out = batcher.generate(ref.prompts(),
                    each(Sampler.Settings.greedy(8, Set.of()), 2));
            for (int r = 0; r < 2; r++) {
                assertArrayEquals(ref.greedy()[r], out.get(r).outputIds(), kind + " row " + r);
            }
        }
    }

    /**
     * More prompts than slots, with budgets of different lengths: sequences leave at different tokens, their slots
     * are refilled from the queue (the last row moving into the freed one), and every reply is still its own.
     */
    @Test
    void slotsFreedMidBatchAreRefilledAndEveryReplyIsItsOwn() throws IOException {
        SamplerTest.Reference ref = SamplerTest.reference("qwen2");
        List<long[]> prompts = new ArrayList<>();
        List<Sampler.Settings> settings = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            long[] p = ref.prompts().get(i % 2);
            prompts.add(java.util.Arrays.copyOf(p, p.length - (i % 3)));  // three lengths per prompt
            settings.add(Sampler.Settings.greedy(3 + 2 * i, Set.of()));   // budgets 3..15
        }
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-qwen2"), ScalarType.Float);
            Sampler sampler = new Sampler(decoder, 0);
            List<Sampler.Generation> out;
            try (ContinuousBatcher batcher = new ContinuousBatcher(decoder, 0,
                    new ContinuousBatcher.Limits(3, 64, 2, 4))) {  // 3 slots, a queue of 2, prefill one at a time
                out = batcher.generate(prompts, settings);
            }
            for (int i = 0; i < prompts.size(); i++) {
                long[] want = sampler.generate(List.of(prompts.get(i)), settings.get(i)).get(0).outputIds();
                assertArrayEquals(want, out.get(i).outputIds(), "prompt " + i);
                assertEquals(3 + 2 * i, out.get(i).outputIds().length);
            }
        }
    }

    /** A stop id ends a sequence as stopped; the cache's capacity ends one at its length. */
    @Test
    void stopIdsAndCapacityEndSequences() throws IOException {
        SamplerTest.Reference ref = SamplerTest.reference("qwen2");
        long[] prompt = ref.prompts().get(0);
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-qwen2"), ScalarType.Float);
            long[] greedy = ref.greedy()[0];
            long stop = greedy[2];
            int at = 0;
            while (greedy[at] != stop) {
                at++;
            }
            try (ContinuousBatcher batcher = new ContinuousBatcher(decoder, 0,
                    new ContinuousBatcher.Limits(2, prompt.length + 5, 4, 64))) {
                Sampler.Generation stopped = batcher.generate(List.of(prompt),
                        List.of(Sampler.Settings.greedy(8, Set.of(stop)))).get(0);
                assertEquals(at + 1, stopped.outputIds().length);
                assertTrue(stopped.stopped());
                // prompt + 5 positions: the prompt, then 5 tokens fed back; the 6th is chosen and not fed.
                Sampler.Generation full = batcher.generate(List.of(prompt),
                        List.of(Sampler.Settings.greedy(100, Set.of()))).get(0);
                assertEquals(6, full.outputIds().length);
                assertFalse(full.stopped());
                assertThrows(IllegalArgumentException.class, () -> batcher.submit(new long[prompt.length + 5],
                        Sampler.Settings.greedy(1, Set.of()), null));
            }
        }
    }

    /**
     * Served from its own thread: a request whose owner cancels it mid-stream ends as cancelled and frees its slot,
     * so the next queued request runs (one slot in all); a full queue refuses more.
     */
    @Test
    void aCancelledRequestFreesItsSlotAndAFullQueueRefuses() throws Exception {
        SamplerTest.Reference ref = SamplerTest.reference("qwen2");
        try (StepScope step = StepScope.open();
                ContinuousBatcher batcher = new ContinuousBatcher(
                        Decoder.load(ParityFixtures.folder("tiny-qwen2"), ScalarType.Float), 0,
                        new ContinuousBatcher.Limits(1, 4096, 1, 4096))) {
            batcher.start();
            AtomicInteger tokens = new AtomicInteger();
            AtomicReference<ContinuousBatcher.Finish> first = new AtomicReference<>();
            CountDownLatch firstEnded = new CountDownLatch(1), started = new CountDownLatch(3);
            ContinuousBatcher.Request endless = batcher.submit(ref.prompts().get(0),
                    Sampler.Settings.greedy(4000, Set.of()), new ContinuousBatcher.Listener() {
                        public boolean token(long id, float lp) {
                            tokens.incrementAndGet();
                            started.countDown();
                            return true;
                        }

                        public void end(ContinuousBatcher.Finish f, RuntimeException e) {
                            first.set(f);
                            firstEnded.countDown();
                        }
                    });
            assertTrue(started.await(60, TimeUnit.SECONDS));
            assertEquals(1, batcher.running());
            List<Long> second = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch secondEnded = new CountDownLatch(1);
            ContinuousBatcher.Listener collect = new ContinuousBatcher.Listener() {
                public boolean token(long id, float lp) {
                    second.add(id);
                    return true;
                }

                public void end(ContinuousBatcher.Finish f, RuntimeException e) {
                    secondEnded.countDown();
                }
            };
            batcher.submit(ref.prompts().get(1), Sampler.Settings.greedy(8, Set.of()), collect);  // waits: one slot
            assertThrows(ContinuousBatcher.QueueFullException.class,
                    () -> batcher.submit(ref.prompts().get(1), Sampler.Settings.greedy(8, Set.of()), collect));
            endless.cancel();
            assertTrue(firstEnded.await(60, TimeUnit.SECONDS));
            assertEquals(ContinuousBatcher.Finish.CANCELLED, first.get());
            assertTrue(tokens.get() < 4000);
            assertTrue(secondEnded.await(60, TimeUnit.SECONDS), "the queued request ran in the freed slot");
            long[] want = ref.greedy()[1];
            assertArrayEquals(want, second.stream().mapToLong(Long::longValue).toArray());
            assertEquals(0, batcher.running());
        }
    }
}
