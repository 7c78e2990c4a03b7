package org.driftml.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.report.StepMetrics;
import org.driftml.data.PreferencePair;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.LoraAdapters;
import org.driftml.model.internal.SafetensorsFile;
import org.driftml.text.ChatMessage;
import org.driftml.train.DpoConfig;
import org.driftml.train.DpoTrainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.driftml.model.spec.LoraConfig;
import org.driftml.model.spec.Precision;

/** LoRA through the API: adapters on a policy, DPO on them in one call, saved as PEFT does, merged as PEFT does. */
class PolicyLoraTest {
    /** A merged model folder computes what base plus adapter computes: PEFT's logits (make_lora_fixtures.py). */
    @Test
    void aMergedModelGivesTheAdaptersLogits(@TempDir Path dir) throws Exception {
        SafetensorsFile ref = SafetensorsFile.open(ParityFixtures.folder("tiny-qwen2-lora-logits.safetensors"));
        try (StepScope scope = StepScope.open()) {
            Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-qwen2"), ScalarType.Float);
            LoraAdapters lora = LoraAdapters.load(ParityFixtures.folder("tiny-qwen2-lora"), decoder);
            decoder.save(dir, lora.merged(decoder), 2L << 30);
            Decoder merged = Decoder.load(dir, ScalarType.Float);
            Tensor ids = ref.read("input_ids"), mask = ref.read("attention_mask");
            Tensor real = mask.to(ScalarType.Float).unsqueeze(-1);
            double diff = merged.logits(merged.hiddenStates(ids, mask, null)).sub(ref.read("logits")).abs().mul(real)
                    .max().item_double();
            assertTrue(diff < 1e-5, "merged: max |logit difference| " + diff);
            assertTrue(torch.equal(merged.weights().get("model.norm.weight"), decoder.weights().get("model.norm.weight")),
                    "weights without an adapter are written as they are");
        }
    }

    @Test
    void dpoOnAdaptersTrainsThemSavesThemAndLeavesTheBase(@TempDir Path dir) throws Exception {
        Path model = ParityFixtures.folder("tiny-qwen2-chat");
        List<PreferencePair> pairs = List.of(
                PreferencePair.conversational(List.of(ChatMessage.user("2+2?")), "4", "5"),
                PreferencePair.conversational(List.of(ChatMessage.user("Sky colour?")), "Blue.", "Green."));
        try (StepScope scope = StepScope.open(); Policy policy = Policy.load(model, Precision.FP32)) {
            double before = policy.score(List.of(ChatMessage.user("2+2?")), "4");
            policy.addAdapters(LoraConfig.of(4, 8, LoraConfig.ALL_LINEAR), 3);
            assertEquals(before, policy.score(List.of(ChatMessage.user("2+2?")), "4"), 0.0,
                    "fresh adapters leave the policy as it was (B is zero)");
            DpoConfig config = DpoConfig.iteration().withLearningRate(1e-3).withBeta(0.1, 0.0)  // no RPO term
                    .withBatch(1, 1).withEpochs(3);  // 6 steps: the first has lr 0 (warm-up)
            List<StepMetrics> steps = DpoTrainer.train(policy, pairs, config);
            // Step 1's policy is the reference (the base: adapters off), so its loss is ln 2 exactly.
            assertEquals(Math.log(2), steps.get(0).get("loss"), 1e-6);
            policy.save(dir.resolve("adapter"));
            assertTrue(Files.exists(dir.resolve("adapter").resolve(LoraAdapters.CONFIG_FILE)));
            assertFalse(Files.exists(dir.resolve("adapter/model.safetensors")), "the adapters alone, as PEFT saves");
            try (Policy base = Policy.load(model, Precision.FP32)) {
                assertEquals(before, base.score(List.of(ChatMessage.user("2+2?")), "4"), 0.0);
                base.loadAdapters(dir.resolve("adapter"));
                assertEquals(policy.score(List.of(ChatMessage.user("2+2?")), "4"),
                        base.score(List.of(ChatMessage.user("2+2?")), "4"), 1e-6, "the saved adapters are the trained");
                assertTrue(Math.abs(base.score(List.of(ChatMessage.user("2+2?")), "4") - before) > 1e-4,
                        "the adapters trained");
            }
            for (Map.Entry<String, Tensor> e : policy.decoder().weights().entrySet()) {
                assertFalse(e.getValue().requires_grad(), e.getKey() + " stays frozen");
            }
        }
    }
}
