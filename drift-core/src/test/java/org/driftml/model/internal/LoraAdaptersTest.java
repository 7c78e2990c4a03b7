package org.driftml.model.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;
import org.driftml.model.spec.LoraConfig;
import org.driftml.model.ParityFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** LoRA adapters against PEFT's, on the tiny Qwen2 model (scripts/parity/make_lora_fixtures.py). */
class LoraAdaptersTest {
    private static SafetensorsFile reference() throws IOException {
        return SafetensorsFile.open(ParityFixtures.folder("tiny-qwen2-lora-logits.safetensors"));
    }

    private static double realTokenDiff(Tensor logits, Tensor expected, Tensor mask) {
        Tensor real = mask.to(ScalarType.Float).unsqueeze(-1);
        return logits.sub(expected).abs().mul(real).max().item_double();
    }

    /** PEFT's adapter read by drift: the logits of base plus adapter are PEFT's; disabled, they are the base's. */
    @ParameterizedTest
    @ValueSource(strings = {"", "-rs"})
    void peftsAdapterInDriftGivesPeftsLogits(String suffix) throws IOException {
        SafetensorsFile ref = reference();
        try (StepScope scope = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-qwen2"), ScalarType.Float);
            decoder.attach(LoraAdapters.load(ParityFixtures.folder("tiny-qwen2-lora" + suffix), decoder));
            Tensor ids = ref.read("input_ids"), mask = ref.read("attention_mask");
            Tensor expected = ref.read("logits" + suffix), base = ref.read("base_logits" + suffix);
            double diff = realTokenDiff(decoder.logits(decoder.hiddenStates(ids, mask, null)), expected, mask);
            assertTrue(diff < 1e-5, "adapter" + suffix + ": max |logit difference| " + diff);
            // The adapter must matter, or the check above proves nothing.
            assertTrue(realTokenDiff(base, expected, mask) > 1e-2, "the fixture's adapter changes the logits");
            decoder.adapters().enabled(false);
            double off = realTokenDiff(decoder.logits(decoder.hiddenStates(ids, mask, null)), base, mask);
            assertTrue(off < 1e-5, "adapter" + suffix + " disabled: " + off);
        }
    }

    /**
     * Over a bf16 base the adapters are held in fp32 and computed in bf16 (as under TRL's bf16 autocast): what they
     * add to the logits is what they add in fp32, up to bf16's rounding of activations (2^-8 relative; measured
     * 0.0087 on an effect of up to 1.2).
     */
    @Test
    void overABf16BaseTheAdaptersAddWhatTheyAddInFp32() throws IOException {
        SafetensorsFile ref = reference();
        try (StepScope scope = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-qwen2-bf16"), ScalarType.BFloat16);
            LoraAdapters lora = LoraAdapters.load(ParityFixtures.folder("tiny-qwen2-lora"), decoder);
            assertEquals("Float", lora.weights().values().iterator().next().scalar_type().toString());
            Tensor ids = ref.read("input_ids"), mask = ref.read("attention_mask");
            Tensor base = decoder.logits(decoder.hiddenStates(ids, mask, null)).to(ScalarType.Float);
            decoder.attach(lora);
            Tensor adapted = decoder.logits(decoder.hiddenStates(ids, mask, null)).to(ScalarType.Float);
            Tensor want = ref.read("logits").sub(ref.read("base_logits"));  // the adapter's effect in fp32
            double diff = realTokenDiff(adapted.sub(base), want, mask);
            System.out.printf("bf16 base: the adapter effect within %.3g of fp32%n", diff);
            assertTrue(diff < 0.03, "bf16 adapter effect against fp32's: " + diff);
            assertTrue(realTokenDiff(want, want.mul(new org.bytedeco.pytorch.Scalar(0)), mask) > 0.5,
                    "the effect is large enough to test");
        }
    }

    @Test
    void theConfigIsReadAsPeftWroteIt() throws IOException {
        try (StepScope scope = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-qwen2"), ScalarType.Float);
            LoraConfig all = LoraAdapters.load(ParityFixtures.folder("tiny-qwen2-lora"), decoder).config();
            assertEquals(4, all.rank());
            assertEquals(2.0, all.scaling());  // 8 / 4
            assertEquals(LoraConfig.LINEAR_MODULES, all.targetModules());
            LoraConfig rs = LoraAdapters.load(ParityFixtures.folder("tiny-qwen2-lora-rs"), decoder).config();
            assertEquals(List.of("q_proj", "v_proj"), rs.targetModules());
            assertEquals(4 / Math.sqrt(2), rs.scaling(), 1e-15);  // rsLoRA: alpha / sqrt(r)
        }
    }

    /**
     * drift writes what PEFT wrote: the same tensor names, shapes and values, and the fields PEFT's config holds;
     * reading drift's folder back gives the same logits.
     */
    @Test
    void driftWritesPeftsFormat(@TempDir Path dir) throws IOException {
        Path peft = ParityFixtures.folder("tiny-qwen2-lora");
        SafetensorsFile ref = reference();
        try (StepScope scope = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-qwen2"), ScalarType.Float);
            LoraAdapters adapters = LoraAdapters.load(peft, decoder);
            adapters.save(dir, "tiny-qwen2");
            SafetensorsFile theirs = SafetensorsFile.open(peft.resolve(LoraAdapters.WEIGHTS_FILE));
            SafetensorsFile ours = SafetensorsFile.open(dir.resolve(LoraAdapters.WEIGHTS_FILE));
            assertEquals(theirs.tensors().keySet(), ours.tensors().keySet());
            for (String key : theirs.tensors().keySet()) {
                assertTrue(torch.equal(theirs.read(key), ours.read(key)), key);
            }
            ObjectMapper json = new ObjectMapper();
            JsonNode p = json.readTree(peft.resolve(LoraAdapters.CONFIG_FILE).toFile());
            JsonNode d = json.readTree(dir.resolve(LoraAdapters.CONFIG_FILE).toFile());
            for (String field : List.of("peft_type", "task_type", "r", "lora_alpha", "lora_dropout", "use_rslora",
                    "bias", "fan_in_fan_out", "use_dora", "base_model_name_or_path")) {
                assertEquals(p.get(field).asText(), d.get(field).asText(), field);
            }
            Decoder again = Decoder.load(ParityFixtures.folder("tiny-qwen2"), ScalarType.Float);
            again.attach(LoraAdapters.load(dir, again));
            Tensor ids = ref.read("input_ids"), mask = ref.read("attention_mask");
            double diff = realTokenDiff(again.logits(again.hiddenStates(ids, mask, null)), ref.read("logits"), mask);
            assertTrue(diff < 1e-5, "reloaded: " + diff);
        }
    }

    /** PEFT's initialisation: B zero (the adapted model is the base, exactly), A uniform in +-1/sqrt(in). */
    @Test
    void freshAdaptersStartAtTheBaseModel() throws IOException {
        SafetensorsFile ref = reference();
        try (StepScope scope = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-qwen2"), ScalarType.Float);
            Tensor ids = ref.read("input_ids"), mask = ref.read("attention_mask");
            Tensor before = decoder.logits(decoder.hiddenStates(ids, mask, null));
            LoraAdapters fresh = LoraAdapters.create(decoder, LoraConfig.of(8, 16, LoraConfig.ALL_LINEAR), 1);
            decoder.attach(fresh);
            assertTrue(torch.equal(before, decoder.logits(decoder.hiddenStates(ids, mask, null))));
            Map<String, Tensor> w = fresh.weights();
            assertEquals(2 * 7 * 2, w.size(), "A and B on 7 linear layers in each of 2 layers");
            Tensor a = w.get("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight");  // in = 128
            assertEquals(List.of(8L, 128L), List.of(a.size(0), a.size(1)));
            double bound = 1 / Math.sqrt(128);
            assertTrue(a.abs().max().item_double() <= bound);
            // A uniform on [-b, b] has standard deviation b / sqrt(3); 1,024 draws put it within 10%.
            assertEquals(bound / Math.sqrt(3), a.std().item_double(), 0.1 * bound / Math.sqrt(3));
            assertTrue(a.requires_grad(), "adapters are trainable");
        }
    }

    @Test
    void anUnknownTargetModuleIsRefusedListingTheLinearLayers() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LoraConfig.of(4, 8, "q_proj", "qkv_proj"));
        assertTrue(e.getMessage().contains("qkv_proj") && e.getMessage().contains("gate_proj, up_proj, down_proj"),
                e.getMessage());
    }

    /** An adapter made for another base: the error names the tensor and both shapes. */
    @Test
    void anAdapterForAnotherBaseIsRefusedNamingTheTensorAndBothShapes(@TempDir Path dir) throws IOException {
        Path peft = ParityFixtures.folder("tiny-qwen2-lora");
        Files.copy(peft.resolve(LoraAdapters.CONFIG_FILE), dir.resolve(LoraAdapters.CONFIG_FILE));
        SafetensorsFile theirs = SafetensorsFile.open(peft.resolve(LoraAdapters.WEIGHTS_FILE));
        String key = "base_model.model.model.layers.1.mlp.up_proj.lora_B.weight";  // [128, 4]
        try (StepScope scope = StepScope.open()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String k : theirs.tensors().keySet()) {
                tensors.put(k, k.equals(key) ? torch.zeros(new long[] {96, 4}) : theirs.read(k));
            }
            SafetensorsWriter.write(dir.resolve(LoraAdapters.WEIGHTS_FILE), tensors, Map.of("format", "pt"));
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-qwen2"), ScalarType.Float);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> LoraAdapters.load(dir, decoder));
            assertTrue(e.getMessage().contains(key) && e.getMessage().contains("[96, 4]")
                    && e.getMessage().contains("[128, 4]"), e.getMessage());
        }
    }
}
