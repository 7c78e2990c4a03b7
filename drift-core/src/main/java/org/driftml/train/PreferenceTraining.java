package org.driftml.train;

import java.io.IOException;
import java.util.List;
import org.driftml.report.StepMetrics;
import org.driftml.data.PreferencePair;
import org.driftml.kernels.StepScope;
import org.driftml.model.Policy;
import org.driftml.model.internal.Decoder;

/** The one-call DPO recipe: tokenise, make the reference, train, leave the trained weights in the policy. */
public final class PreferenceTraining {
    private PreferenceTraining() {}

    /**
     * DPO on your own preference pairs, as TRL's DPOTrainer runs it, in one call: the pairs are tokenised through the
     * policy's chat template (prompts cut to their last 1,024 tokens, sequences to 2,048), the reference is the
     * policy as the call starts (scored once, so one model is in memory), the update is RMSprop over fp32 master
     * weights, and every step runs in its own native-memory scope. In BF16 the masters start from the folder's fp32
     * weights while the policy still holds them ({@link Policy#weightsAsLoaded()}), else from its current weights;
     * they are freed when the call returns, leaving the trained weights in the policy. With LoRA adapters on the
     * policy ({@link Policy#addAdapters}, {@link Policy#loadAdapters}) the adapters train, the base stays frozen and
     * the reference is the base, the adapters switched off (TRL with a PEFT config).
     *
     * @param policy the model to train, in place
     * @param pairs  the preference pairs (at least one)
     * @param config the DPO settings ({@link DpoConfig#iteration()} is DRIFT's recipe)
     * @return each optimiser step's metrics (loss, implicit rewards, log-probs, gradient norm, ...;
     *         {@link StepMetrics#trl()} gives them under TRL's names)
     * @throws IOException when the fp32 master weights cannot be read from the folder
     * @throws IllegalArgumentException when there are no pairs or a pair cannot be tokenised (named)
     * @throws IllegalStateException when the loss or the gradient norm stops being finite
     */
    public static List<StepMetrics> train(Policy policy, List<PreferencePair> pairs, DpoConfig config)
            throws IOException {
        java.util.Objects.requireNonNull(policy, "policy");
        if (pairs == null || pairs.isEmpty()) {
            throw new IllegalArgumentException("pairs: none given");
        }
        java.util.Objects.requireNonNull(config, "config");
        try (StepScope scope = StepScope.open()) {
            List<PairTokenizer.TokenizedPair> tokenized = PairTokenizer.of(policy, 1024, 2048).tokenize(pairs);
            // Under LoRA the reference is the base (adapters off, as TRL with PEFT), scored as it trains; else the
            // policy as the masters leave it, scored once.
            java.util.function.Function<Decoder, ReferencePolicy> ref = d -> d.adapters() != null
                    ? new BaseModelReference(d)
                    : PrecomputedReference.compute(new FrozenReference(d), tokenized, policy.padId(),
                            config.microBatch());
            try (DpoTrainer trainer = DpoTrainer.of(policy, ref, config, 0)) {
                try {
                    return trainer.train(tokenized);
                } finally {
                    if (trainer.reference() instanceof PrecomputedReference scored) {
                        scored.close();
                    }
                    policy.weightsChanged();
                }
            }
        }
    }
}
