package org.driftml.train;

import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.LoraAdapters;

/** What a trainer updates: under LoRA the adapters, the base frozen (PEFT); otherwise every weight. */
final class TrainableWeights {
    private TrainableWeights() {}

    /** Marks the weights that train as requiring gradients and the others as not, and returns the former by name. */
    static Map<String, Tensor> of(Decoder policy) {
        LoraAdapters lora = policy.adapters();
        Map<String, Tensor> trainable = lora != null ? lora.weights() : policy.weights();
        try (StepScope scope = StepScope.open()) {  // requires_grad_ returns a handle per weight
            policy.weights().values().forEach(w -> w.requires_grad_(lora == null));
            trainable.values().forEach(w -> w.requires_grad_(true));
        }
        return trainable;
    }
}
