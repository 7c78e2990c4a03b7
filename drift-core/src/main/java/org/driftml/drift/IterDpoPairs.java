package org.driftml.drift;

import java.util.List;
import org.driftml.data.DsatItem;
import org.driftml.data.PreferencePair;
import org.driftml.model.Policy;

/**
 * Iterative DPO on WildFeedback as the paper runs it: both responses are fresh policy samples for the same x, the
 * chosen one sampled with the DSAT turn and the improvement instruction in view ({@link FeedbackPrompt}), the
 * rejected one sampled from x alone. Identical or empty samples are dropped.
 */
final class IterDpoPairs extends ItemPairs<DsatItem> {
    private final FeedbackPrompt.Style style;

    public IterDpoPairs(List<DsatItem> items, FeedbackPrompt.Style style) {
        super(items, DsatItem::id);
        this.style = style;
    }

    @Override
    public String name() {
        return "iterdpo";
    }

    @Override
    public List<long[]> samplingPrompts(Policy policy, int i) {
        DsatItem item = items.get(i);
        return List.of(FeedbackPrompt.encode(policy, item, style), policy.encodeChat(item.prompt()));
    }

    @Override
    public PreferencePair pair(int i, List<String> samples) {
        DsatItem item = items.get(i);
        String chosen = FeedbackPrompt.positive(samples.get(0), style), rejected = samples.get(1).strip();
        if (chosen.isBlank() || chosen.equals(rejected)) {
            return null;
        }
        return new PreferencePair(item.prompt(), chosen, rejected, true, DriftPairs.metadata(name(), item));
    }
}
