package org.driftml.train;

import java.util.List;
import org.bytedeco.pytorch.Device;

/**
 * DPO's reference log-probs for a batch: a frozen model run alongside the policy ({@link FrozenReference}), or values
 * computed once per dataset and looked up ({@link PrecomputedReference}: no second model in memory while training).
 * Sealed: the batches and scores it works on are the engine's own (package-private) types.
 */
public sealed interface ReferencePolicy permits FrozenReference, PrecomputedReference {
    /** Scores of the batch built from {@code pairIndices} (indices into the tokenised dataset), detached. */
    DpoLoss.Scores score(PreferenceBatch batch, List<Integer> pairIndices);

    /** Where its scores are, and where batches for it are built. */
    Device device();
}
