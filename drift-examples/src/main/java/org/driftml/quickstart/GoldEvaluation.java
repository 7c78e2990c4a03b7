package org.driftml.quickstart;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.driftml.model.Policy;
import org.driftml.model.Sampler;
import org.driftml.text.ChatMessage;

/** Mean gold reward r* of a policy's greedy replies to held-out tasks (fixed by seed, never seen in training). */
final class GoldEvaluation {
    private final List<WordTask> tasks;

    GoldEvaluation(int n, long seed) {
        Random r = new Random(seed);
        tasks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            tasks.add(WordTask.sample(r));
        }
    }

    double meanReward(Policy policy, int maxNewTokens) {
        List<long[]> prompts = new ArrayList<>();
        for (WordTask t : tasks) {
            prompts.add(policy.encodeChat(List.of(ChatMessage.user(t.prompt()))));
        }
        double sum = 0;
        int batch = 64;
        for (int s = 0; s < prompts.size(); s += batch) {
            List<long[]> chunk = prompts.subList(s, Math.min(prompts.size(), s + batch));
            List<String> replies = policy.sample(chunk, Sampler.Settings.greedy(maxNewTokens, policy.endIds()));
            for (int i = 0; i < replies.size(); i++) {
                sum += tasks.get(s + i).reward(replies.get(i));
            }
        }
        return sum / tasks.size();
    }
}
