package org.driftml.drift;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.data.PreferencePair;
import org.driftml.model.Policy;
import org.driftml.text.ChatMessage;
import org.driftml.model.RewardModel;

/**
 * Iterative DPO on UltraFeedback-style prompts: two fresh samples per prompt, ranked by a reward model; the higher
 * is chosen. Ties carry no preference and are dropped.
 */
public final class RewardRankedPairs implements PairMethod {
    private final List<List<ChatMessage>> prompts;
    private final RewardModel reward;

    public RewardRankedPairs(List<List<ChatMessage>> prompts, RewardModel reward) {
        this.prompts = List.copyOf(prompts);
        this.reward = reward;
    }

    @Override
    public String name() {
        return "iterdpo-reward";
    }

    @Override
    public int size() {
        return prompts.size();
    }

    @Override
    public String id(int i) {
        return "prompt-" + (i + 1);
    }

    @Override
    public List<long[]> samplingPrompts(Policy policy, int i) {
        long[] p = policy.encodeChat(prompts.get(i));
        return List.of(p, p);
    }

    @Override
    public PreferencePair pair(int i, List<String> decoded) {
        List<String> samples = decoded.stream().map(String::strip).toList();
        double[] s = reward.score(prompts.get(i), samples);
        if (s[0] == s[1]) {
            return null;
        }
        int best = s[0] > s[1] ? 0 : 1;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id(i));
        m.put("method", name());
        m.put("score_chosen", s[best]);
        m.put("score_rejected", s[1 - best]);
        return new PreferencePair(prompts.get(i), samples.get(best), samples.get(1 - best), true, m);
    }
}
