package org.driftml.train;

import java.util.List;
import org.bytedeco.pytorch.Device;

/**
 * DPO's reference log-probs for a batch: a frozen model run alongside the policy ({@link FrozenReference}), values
 * computed once per dataset and looked up ({@link PrecomputedReference}: no second model in memory while training),
 * or, under LoRA, the policy with its adapters switched off ({@link BaseModelReference}).
 * Sealed, with package-private methods: the batches, scores and devices it works on are the engine's own types.
 */
public abstract sealed class ReferencePolicy permits FrozenReference, PrecomputedReference, BaseModelReference {
    ReferencePolicy() {}

    /** Scores of the batch built from {@code pairIndices} (indices into the tokenised dataset), detached. */
    abstract DpoLoss.Scores score(PreferenceBatch batch, List<Integer> pairIndices);

    /** Where its scores are, and where batches for it are built. */
    abstract Device device();
}
