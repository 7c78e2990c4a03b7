package org.driftml.drift;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.data.PreferencePair;
import org.driftml.model.Policy;

/**
 * The UltraFeedback setting's pairs (paper Sec. 4.1, Table 3), over records that each hold a prompt with a chosen and
 * a rejected reply. One fresh sample per record, from the prompt alone through the chat template:
 * <ul>
 *   <li>DRIFT-UF keeps the original rejected reply as y- and replaces the chosen with the sample;</li>
 *   <li>SPIN-UF keeps the original chosen reply as y+ and replaces the rejected with the sample.</li>
 * </ul>
 * (IterDPO-UF samples two replies and ranks them with a reward model: {@link RewardRankedPairs}.) A sample that is
 * empty or equals the reply it would be paired with carries no preference and is dropped.
 */
final class UltraFeedbackPairs extends ItemPairs<PreferencePair> {
    private final DriftConfig.Method method;

    UltraFeedbackPairs(List<PreferencePair> records, DriftConfig.Method method) {
        super(records, UltraFeedbackPairs::id);
        if (method == DriftConfig.Method.ITERDPO) {
            throw new IllegalArgumentException("IterDPO on UltraFeedback ranks two samples: RewardRankedPairs");
        }
        this.method = method;
    }

    private static String id(PreferencePair record) {
        Object id = record.metadata().get("id");
        if (id == null) {
            throw new IllegalArgumentException("an UltraFeedback record without an id: " + record.prompt());
        }
        return id.toString();
    }

    @Override
    public String name() {
        return method == DriftConfig.Method.DRIFT ? "drift-uf" : "spin-uf";
    }

    @Override
    public List<long[]> samplingPrompts(Policy policy, int i) {
        return List.of(policy.encodeChat(items.get(i).prompt()));
    }

    @Override
    public PreferencePair pair(int i, List<String> samples) {
        PreferencePair record = items.get(i);
        String sample = samples.get(0).strip();
        String kept = method == DriftConfig.Method.DRIFT ? record.rejected() : record.chosen();
        if (sample.isBlank() || sample.equals(kept)) {
            return null;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id(i));
        m.put("method", name());
        return method == DriftConfig.Method.DRIFT
                ? new PreferencePair(record.prompt(), sample, record.rejected(), true, m)
                : new PreferencePair(record.prompt(), record.chosen(), sample, true, m);
    }
}
