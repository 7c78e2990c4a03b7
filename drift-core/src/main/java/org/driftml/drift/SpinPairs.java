package org.driftml.drift;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.data.PreferencePair;
import org.driftml.data.SatReply;
import org.driftml.model.Policy;

/**
 * SPIN (Chen et al., 2024) on chat logs: y+ is the reply the user marked satisfying, y- a fresh policy sample for
 * the conversation before it. Samples equal to the logged reply are dropped.
 */
final class SpinPairs extends ItemPairs<SatReply> {
    public SpinPairs(List<SatReply> items) {
        super(items, SatReply::id);
    }

    @Override
    public String name() {
        return "spin";
    }

    @Override
    public List<long[]> samplingPrompts(Policy policy, int i) {
        return List.of(policy.encodeChat(items.get(i).prompt()));
    }

    @Override
    public PreferencePair pair(int i, List<String> samples) {
        SatReply item = items.get(i);
        String negative = samples.get(0).strip();
        if (negative.equals(item.reply())) {
            return null;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", item.id());
        m.put("method", name());
        return new PreferencePair(item.prompt(), item.reply(), negative, true, m);
    }
}
