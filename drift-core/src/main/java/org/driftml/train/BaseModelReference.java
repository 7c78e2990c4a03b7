package org.driftml.train;

import java.util.List;
import org.bytedeco.pytorch.Device;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.LoraAdapters;

/**
 * DPO's reference under LoRA, as TRL with PEFT computes it: the policy's own decoder with its adapters switched off,
 * which is the base model exactly. No second model is held or precomputed.
 */
public final class BaseModelReference extends ReferencePolicy {
    private final Decoder model;
    private final LoraAdapters adapters;
    private final FrozenReference scorer;

    /**
     * @param model the policy's decoder, with its LoRA adapters attached
     * @throws IllegalArgumentException when it has no adapters (the base model would be the policy itself)
     */
    public BaseModelReference(Decoder model) {
        if (model.adapters() == null) {
            throw new IllegalArgumentException("the base model as reference needs LoRA adapters on the policy");
        }
        this.model = model;
        this.adapters = model.adapters();
        this.scorer = new FrozenReference(model);
    }

    @Override
    Device device() {
        return model.device();
    }

    @Override
    DpoLoss.Scores score(PreferenceBatch batch, List<Integer> pairIndices) {
        boolean was = adapters.enabled();
        adapters.enabled(false);
        try {
            return scorer.score(batch, pairIndices);
        } finally {
            adapters.enabled(was);
        }
    }
}
