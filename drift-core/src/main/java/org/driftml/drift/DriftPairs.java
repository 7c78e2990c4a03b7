package org.driftml.drift;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.data.DsatItem;
import org.driftml.data.PreferencePair;
import org.driftml.model.Policy;

/**
 * DRIFT's pairs (paper, Algorithm 1): y- is the logged reply the user was dissatisfied with, fixed across
 * iterations; y+ is sampled fresh from the current policy with the feedback in view ({@link FeedbackPrompt}); the
 * pair is trained on x alone. An empty sample, or one equal to y-, carries no preference and is dropped.
 */
final class DriftPairs extends ItemPairs<DsatItem> {
    private final FeedbackPrompt.Style style;

    public DriftPairs(List<DsatItem> items, FeedbackPrompt.Style style) {
        super(items, DsatItem::id);
        this.style = style;
    }

    @Override
    public String name() {
        return "drift";
    }

    @Override
    public List<long[]> samplingPrompts(Policy policy, int i) {
        return List.of(FeedbackPrompt.encode(policy, items.get(i), style));
    }

    @Override
    public PreferencePair pair(int i, List<String> samples) {
        DsatItem item = items.get(i);
        String positive = FeedbackPrompt.positive(samples.get(0), style);
        if (positive.isBlank() || positive.equals(item.rejected())) {
            return null;
        }
        return new PreferencePair(item.prompt(), positive, item.rejected(), true, metadata(name(), item));
    }

    static Map<String, Object> metadata(String method, DsatItem item) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", item.id());
        m.put("method", method);
        m.put("feedback", item.feedback());
        return m;
    }
}
