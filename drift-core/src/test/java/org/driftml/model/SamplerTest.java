package org.driftml.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.SafetensorsFile;
import org.driftml.model.internal.Tensorsj;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SamplerTest {
    /** The fixture's prompts without their left padding, and transformers' continuations. */
    record Reference(List<long[]> prompts, long[][] greedy, long[][] sampled) {}

    static Reference reference(String kind) throws IOException {
        SafetensorsFile f = SafetensorsFile.open(ParityFixtures.folder("tiny-" + kind + "-logits.safetensors"));
        long[] ids = Tensorsj.longs(f.read("input_ids")), mask = Tensorsj.longs(f.read("attention_mask"));
        int t = (int) (ids.length / 2);
        List<long[]> prompts = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            List<Long> p = new ArrayList<>();
            for (int j = 0; j < t; j++) {
                if (mask[r * t + j] == 1) {
                    p.add(ids[r * t + j]);
                }
            }
            prompts.add(p.stream().mapToLong(Long::longValue).toArray());
        }
        return new Reference(prompts, continuations(f.read("greedy_ids"), t), continuations(f.read("sampled_ids"), t));
    }

    static long[][] continuations(Tensor all, int promptLength) {
        long[] flat = Tensorsj.longs(all);
        int width = (int) all.size(1);
        long[][] out = new long[2][];
        for (int r = 0; r < 2; r++) {
            out[r] = Arrays.copyOfRange(flat, r * width + promptLength, (r + 1) * width);
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void greedyWithTheCacheEqualsTransformersGenerate(String kind) throws IOException {
        Reference ref = reference(kind);
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float);
            List<Sampler.Generation> out = new Sampler(decoder, 0).generate(ref.prompts(),
                    Sampler.Settings.greedy(8, Set.of()));
            for (int r = 0; r < 2; r++) {
                assertArrayEquals(ref.greedy()[r], out.get(r).outputIds(), kind + " row " + r);
                assertFalse(out.get(r).stopped());
            }
        }
    }

    /** One unpadded prompt: prefill and every decode step run without a mask tensor. */
    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void anUnpaddedPromptDecodesAsTransformersDoes(String kind) throws IOException {
        Reference ref = reference(kind);
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float);
            List<Sampler.Generation> out = new Sampler(decoder, 0).generate(List.of(ref.prompts().get(0)),
                    Sampler.Settings.greedy(8, Set.of()));
            assertArrayEquals(ref.greedy()[0], out.get(0).outputIds(), kind);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void seededSamplingReproducesTransformersDraws(String kind) throws IOException {
        Reference ref = reference(kind);
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float);
            Sampler sampler = new Sampler(decoder, 0);
            Sampler.Settings settings = Sampler.Settings.sampling(0.7, 0.9, 8, Set.of(), 1234);
            List<Sampler.Generation> out = sampler.generate(ref.prompts(), settings);
            for (int r = 0; r < 2; r++) {
                assertArrayEquals(ref.sampled()[r], out.get(r).outputIds(), kind + " row " + r);
            }
            List<Sampler.Generation> again = sampler.generate(ref.prompts(), settings);
            assertArrayEquals(out.get(0).outputIds(), again.get(0).outputIds(), "same seed, same tokens");
            List<Sampler.Generation> other = sampler.generate(ref.prompts(),
                    Sampler.Settings.sampling(1.5, 1.0, 8, Set.of(), 99));
            assertNotEquals(Arrays.toString(out.get(0).outputIds()) + Arrays.toString(out.get(1).outputIds()),
                    Arrays.toString(other.get(0).outputIds()) + Arrays.toString(other.get(1).outputIds()));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2"})
    void stopsAtAStopIdAndReportsLogprobs(String kind) throws IOException {
        Reference ref = reference(kind);
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float);
            // The latest greedy token of row 0 that has not appeared before it becomes a stop id.
            long[] greedy = ref.greedy()[0];
            int k = 0;
            for (int i = 1; i < greedy.length; i++) {
                final int at = i;
                if (Arrays.stream(greedy, 0, i).noneMatch(x -> x == greedy[at])) {
                    k = i;
                }
            }
            List<Sampler.Generation> out = new Sampler(decoder, 0).generate(ref.prompts(),
                    Sampler.Settings.greedy(8, Set.of(greedy[k])));
            assertArrayEquals(Arrays.copyOf(greedy, k + 1), out.get(0).outputIds(), "stops after the stop id");
            assertTrue(out.get(0).stopped());
            assertEquals(k + 1, out.get(0).logprobs().length);
            for (float lp : out.get(0).logprobs()) {
                assertTrue(lp < 0 && lp > -20, "log-prob " + lp);
            }
            // The greedy token's log-prob is the largest of its distribution: check it against a direct forward.
            Tensor ids = Tensorsj.fromLongs(ref.prompts().get(0)).unsqueeze(0);
            Tensor logits = decoder.logits(decoder.hiddenStates(ids, org.bytedeco.pytorch.global.torch.ones_like(ids),
                    null));
            float expected = Tensorsj.floats(logits.select(1, ids.size(1) - 1).log_softmax(-1).max())[0];
            assertEquals(expected, out.get(0).logprobs()[0], 1e-5);
        }
    }

    /**
     * Top-k and the repetition penalty against transformers' own processors (scripts/parity/
     * make_processor_fixtures.py): the same seeded draws, and greedy decoding under the penalty, token for token.
     * The penalty sees every id so far, the prompt's left padding included, as transformers' does.
     */
    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void topKAndTheRepetitionPenaltyDrawAsTransformersDoes(String kind) throws IOException {
        Reference ref = reference(kind);
        SafetensorsFile f = SafetensorsFile.open(ParityFixtures.folder("tiny-" + kind + "-processors.safetensors"));
        int t = ref.prompts().get(0).length;
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float);
            Sampler sampler = new Sampler(decoder, 0);
            Object[][] runs = {
                {"top_k_ids", new Sampler.Settings(false, 0.8, 1.0, 5, 1.0, 8, Set.of(), 1234)},
                {"repetition_ids", new Sampler.Settings(false, 0.7, 0.9, 0, 1.3, 8, Set.of(), 1234)},
                {"greedy_repetition_ids", new Sampler.Settings(true, 1.0, 1.0, 0, 5.0, 8, Set.of(), 0)}};
            for (Object[] run : runs) {
                long[][] want = continuations(f.read((String) run[0]), t);
                List<Sampler.Generation> out = sampler.generate(ref.prompts(), (Sampler.Settings) run[1]);
                for (int r = 0; r < 2; r++) {
                    assertArrayEquals(want[r], out.get(r).outputIds(), kind + " " + run[0] + " row " + r);
                }
            }
            // Each changes the tokens (so each comparison above says something).
            assertNotEquals(Arrays.toString(ref.greedy()[0]), Arrays.toString(
                    continuations(f.read("greedy_repetition_ids"), t)[0]), "the penalty changes greedy decoding");
        }
    }
}
