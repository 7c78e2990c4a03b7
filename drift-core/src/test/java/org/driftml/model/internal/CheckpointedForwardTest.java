package org.driftml.model.internal;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;
import org.driftml.model.ParityFixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CheckpointedForwardTest {
    static Map<String, Tensor> gradients(Decoder d) {
        Map<String, Tensor> g = new LinkedHashMap<>();
        d.weights().forEach((name, w) -> {
            if (w.grad().defined()) {  // Llama's untied lm_head takes no part in hidden states
                g.put(name, w.grad().detach().clone());
                w.mutable_grad().reset();
            }
        });
        return g;
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void checkpointedGradientsEqualPlainAutograd(String kind) throws IOException {
        SafetensorsFile ref = SafetensorsFile.open(ParityFixtures.folder("tiny-" + kind + "-logits.safetensors"));
        try (StepScope step = StepScope.open()) {
            Decoder d = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float);
            d.weights().values().forEach(w -> w.requires_grad_(true));
            Tensor ids = ref.read("input_ids"), mask = ref.read("attention_mask");
            torch.manual_seed(3);
            Tensor probe = torch.randn(2, ids.size(1), d.config().hiddenSize());
            Tensor realTokens = mask.to(ScalarType.Float).unsqueeze(-1);

            d.hiddenStates(ids, mask, null).mul(probe).mul(realTokens).sum().backward();
            Map<String, Tensor> plain = gradients(d);

            CheckpointedForward f = d.checkpointed(ids, mask, null);
            f.hidden().mul(probe).mul(realTokens).sum().backward();
            f.backward();
            Map<String, Tensor> checkpointed = gradients(d);

            assertTrue(plain.keySet().equals(checkpointed.keySet()), "the same weights receive gradients");
            for (String name : plain.keySet()) {
                Tensor a = plain.get(name), b = checkpointed.get(name);
                double scale = Math.max(1e-3, a.abs().max().item_double());
                double diff = a.sub(b).abs().max().item_double() / scale;
                assertTrue(diff < 1e-5, kind + " " + name + ": relative gradient difference " + diff);
            }
            assertTrue(plain.get("model.embed_tokens.weight").abs().sum().item_double() > 0, "gradients reach the embedding");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2"})
    void backwardBeforeTheLossSaysWhatIsMissing(String kind) throws IOException {
        try (StepScope step = StepScope.open()) {
            Decoder d = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float);
            d.weights().values().forEach(w -> w.requires_grad_(true));
            Tensor ids = torch.randint(0, 256, new long[] {1, 5});
            CheckpointedForward f = d.checkpointed(ids, torch.ones_like(ids), null);
            IllegalStateException e = assertThrows(IllegalStateException.class, f::backward);
            assertTrue(e.getMessage().contains("call backward() on a loss of it first"), e.getMessage());
            d.weights().values().forEach(w -> w.requires_grad_(false));
        }
    }

    /**
     * With LoRA dropout in training, the checkpointed backward recomputes each layer with the masks its forward drew
     * (the generator's state replayed), so its adapter gradients equal plain autograd's under the same seed; and the
     * generator continues afterwards as if nothing had been recomputed.
     */
    @org.junit.jupiter.api.Test
    void loraDropoutMasksAreReplayedInTheRecompute() throws IOException {
        SafetensorsFile ref = SafetensorsFile.open(ParityFixtures.folder("tiny-qwen2-logits.safetensors"));
        try (StepScope step = StepScope.open()) {
            Decoder d = Decoder.load(ParityFixtures.folder("tiny-qwen2"), ScalarType.Float);
            LoraAdapters lora = LoraAdapters.create(d, new org.driftml.model.spec.LoraConfig(4, 8, 0.5, java.util.List.of("all-linear"),
                    false), 2);
            d.attach(lora);
            Map<String, Tensor> adapters = lora.weights();
            torch.manual_seed(4);
            for (Tensor w : adapters.values()) {  // B drawn, so that gradients reach A too
                w.detach().normal_(0.0, 0.2, new org.bytedeco.pytorch.GeneratorOptional());
            }
            Tensor ids = ref.read("input_ids"), mask = ref.read("attention_mask");
            Tensor probe = torch.randn(2, ids.size(1), d.config().hiddenSize());
            lora.training(true);

            torch.manual_seed(9);
            d.hiddenStates(ids, mask, null).mul(probe).sum().backward();
            Tensor plainNext = torch.rand(new long[] {4});
            Map<String, Tensor> plain = adapterGradients(adapters);

            torch.manual_seed(9);
            CheckpointedForward f = d.checkpointed(ids, mask, null);
            f.hidden().mul(probe).sum().backward();
            f.backward();
            Tensor checkpointedNext = torch.rand(new long[] {4});
            Map<String, Tensor> checkpointed = adapterGradients(adapters);

            torch.manual_seed(10);  // another seed draws other masks: the check below can fail
            d.hiddenStates(ids, mask, null).mul(probe).sum().backward();
            Map<String, Tensor> other = adapterGradients(adapters);
            lora.training(false);

            double worst = 0, apart = 0;
            for (String name : plain.keySet()) {
                double scale = Math.max(1e-3, plain.get(name).abs().max().item_double());
                worst = Math.max(worst, plain.get(name).sub(checkpointed.get(name)).abs().max().item_double() / scale);
                apart = Math.max(apart, plain.get(name).sub(other.get(name)).abs().max().item_double() / scale);
            }
            assertTrue(worst < 1e-5, "checkpointed against plain, same seed: " + worst);
            assertTrue(apart > 1e-2, "another seed's masks give other gradients: " + apart);
            assertTrue(torch.equal(plainNext, checkpointedNext), "the generator goes on where the forward left it");
        }
    }

    private static Map<String, Tensor> adapterGradients(Map<String, Tensor> adapters) {
        Map<String, Tensor> g = new LinkedHashMap<>();
        adapters.forEach((name, w) -> {
            g.put(name, w.grad().detach().clone());
            w.mutable_grad().reset();
        });
        return g;
    }
}
