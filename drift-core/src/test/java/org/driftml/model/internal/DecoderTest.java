package org.driftml.model.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import java.io.IOException;
import java.nio.file.Path;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;
import org.driftml.model.ParityFixtures;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The decoder against transformers 5.18 on the committed tiny models (scripts/parity/make_model_fixtures.py). */
class DecoderTest {
    static SafetensorsFile reference(String kind) throws IOException {
        return SafetensorsFile.open(ParityFixtures.folder("tiny-" + kind + "-logits.safetensors"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void fp32LogitsEqualTransformersAtEveryRealToken(String kind) throws IOException {
        SafetensorsFile ref = reference(kind);
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float);
            Tensor ids = ref.read("input_ids"), mask = ref.read("attention_mask");
            Tensor logits = decoder.logits(decoder.hiddenStates(ids, mask, null));
            Tensor expected = ref.read("logits");
            assertArrayEquals(expected.sizes().vec().get(), logits.sizes().vec().get());
            // Padding positions' outputs are arbitrary in both stacks; every real token must agree.
            Tensor real = mask.to(ScalarType.Bool).unsqueeze(-1);
            double diff = logits.sub(expected).abs().mul(real.to(ScalarType.Float)).max().item_double();
            assertTrue(diff < 1e-5, kind + ": max |logit difference| " + diff);
            assertTrue(expected.abs().max().item_double() > 0.1, "the fixture's logits are not trivially small");
        }
    }

    /**
     * Weights read when asked for (what seeds fp32 masters one at a time) are load's, bit for bit, from an fp32 file
     * and cast from a bf16 one; each read is a new tensor of its own, and the names need no read at all.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-qwen2", "tiny-qwen2-bf16"})
    void weightsReadWhenAskedForAreLoadsWeights(String fixture) throws IOException {
        try (StepScope step = StepScope.open()) {
            Path folder = ParityFixtures.folder(fixture);
            java.util.Map<String, Tensor> lazy = Decoder.weightsWhenRead(folder, ScalarType.Float);
            java.util.Map<String, Tensor> loaded = Decoder.load(folder, ScalarType.Float).weights();
            assertEquals(loaded.keySet(), lazy.keySet());
            for (String name : loaded.keySet()) {
                Tensor t = lazy.get(name);
                assertEquals("Float", t.scalar_type().toString(), name);
                assertTrue(torch.equal(loaded.get(name), t), name);
            }
            String name = "model.layers.0.mlp.up_proj.weight";
            assertTrue(lazy.get(name).data_ptr().address() != lazy.get(name).data_ptr().address(),
                    "read anew each time");
        }
    }

    /** A row without padding takes SDPA's causal path (no mask tensor): it must agree with transformers too. */
    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void anUnpaddedRowTakesTheCausalPathWithTheSameLogits(String kind) throws IOException {
        SafetensorsFile ref = reference(kind);
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float);
            Tensor row = ref.read("input_ids").narrow(0, 0, 1);
            Tensor logits = decoder.logits(decoder.hiddenStates(row, null, null));  // null: no padding
            double diff = logits.sub(ref.read("logits").narrow(0, 0, 1)).abs().max().item_double();
            assertTrue(diff < 1e-5, kind + ": " + diff);
        }
    }

    /**
     * Right padding (training batches) also takes the causal path (a null mask): each row's real tokens as if
     * computed alone, and as with the explicit mask.
     */
    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void aRightPaddedBatchEqualsEachRowAlone(String kind) throws IOException {
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float);
            Tensor ids = Tensorsj.fromLongs(new long[] {5, 9, 13, 17, 21, 25, 30, 40, 50, 0, 0, 0}).view(2, 6);
            Tensor mask = Tensorsj.fromLongs(new long[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}).view(2, 6);
            Tensor batch = decoder.hiddenStates(ids, null, null);
            Tensor masked = decoder.hiddenStates(ids, mask, null);
            Tensor real = mask.to(ScalarType.Float).unsqueeze(-1);
            assertTrue(batch.sub(masked).mul(real).abs().max().item_double() < 1e-5, "causal path = masked path");
            Tensor row0 = decoder.hiddenStates(ids.narrow(0, 0, 1), mask.narrow(0, 0, 1), null);
            Tensor row1 = decoder.hiddenStates(ids.narrow(0, 1, 1).narrow(1, 0, 3), mask.narrow(0, 1, 1).narrow(1, 0, 3),
                    null);
            assertTrue(batch.narrow(0, 0, 1).sub(row0).abs().max().item_double() < 1e-5);
            assertTrue(batch.narrow(0, 1, 1).narrow(1, 0, 3).sub(row1).abs().max().item_double() < 1e-5);
        }
    }

    /** Greedy decoding without a cache, positions as generate() derives them for left-padded prompts. */
    static Tensor greedy(Decoder decoder, Tensor ids, Tensor mask, int steps) {
        for (int s = 0; s < steps; s++) {
            Tensor positions = mask.cumsum(-1).sub(new Scalar(1)).masked_fill(mask.eq(new Scalar(0)), new Scalar(1));
            Tensor hidden = decoder.hiddenStates(ids, mask, positions);
            Tensor last = decoder.logits(hidden.narrow(1, hidden.size(1) - 1, 1)).squeeze(1);
            Tensor next = last.argmax(new org.bytedeco.pytorch.LongOptional(-1), true);
            ids = torch.cat(new TensorVector(ids, next), 1);
            mask = torch.cat(new TensorVector(mask, torch.ones_like(next)), 1);
        }
        return ids;
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void greedyContinuationsEqualTransformersGenerate(String kind) throws IOException {
        SafetensorsFile ref = reference(kind);
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float);
            Tensor out = greedy(decoder, ref.read("input_ids"), ref.read("attention_mask"), 8);
            Tensor expected = ref.read("greedy_ids");
            assertArrayEquals(Tensorsj.longs(expected), Tensorsj.longs(out), kind + " greedy ids");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void aSavedModelReloadsWithIdenticalOutputs(String kind, @TempDir Path dir) throws IOException {
        SafetensorsFile ref = reference(kind);
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float);
            decoder.save(dir, 50_000);
            Decoder again = Decoder.load(dir, ScalarType.Float);
            Tensor ids = ref.read("input_ids"), mask = ref.read("attention_mask");
            assertTrue(torch.equal(decoder.hiddenStates(ids, mask, null), again.hiddenStates(ids, mask, null)));
            assertEquals(decoder.config(), again.config());
        }
    }

    /**
     * bf16 weights computing in bf16 against transformers doing the same (scripts/parity/make_processor_fixtures.py):
     * the two stacks round intermediate bf16 results (the final hidden state among them) in different places, and a
     * hidden state rounded one bf16 step apart moves every logit of its position by up to a step of the position's
     * largest logits (measured: Llama bit for bit, Qwen2 at most 2^-7, one step at its largest logits, above 1).
     * Allowed: one step (2^-7 relative) of the position's largest |logit|. The fp32 model's logits, 0.05 away, are
     * no reference for this.
     */
    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void bf16LogitsFollowTransformersInBf16(String kind) throws IOException {
        SafetensorsFile ref = reference(kind);
        SafetensorsFile bf16 = SafetensorsFile.open(ParityFixtures.folder("tiny-" + kind + "-processors.safetensors"));
        try (StepScope step = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind + "-bf16"), ScalarType.BFloat16);
            Tensor ids = ref.read("input_ids"), mask = ref.read("attention_mask");
            Tensor logits = decoder.logits(decoder.hiddenStates(ids, mask, null)).to(ScalarType.Float);
            Tensor real = mask.to(ScalarType.Float).unsqueeze(-1);
            Tensor want = bf16.read("logits_bf16");
            Tensor diff = logits.sub(want).abs().mul(real);
            // One bf16 step (2^-7 relative) of each position's largest |logit|.
            Tensor bound = want.abs().amax(new long[] {-1}, true).mul(new org.bytedeco.pytorch.Scalar(1.0 / 128));
            double worst = diff.sub(bound).max().item_double();
            assertTrue(worst <= 0, kind + " bf16: a logit is " + worst + " beyond a bf16 step; max |diff| "
                    + diff.max().item_double());
        }
    }
}
