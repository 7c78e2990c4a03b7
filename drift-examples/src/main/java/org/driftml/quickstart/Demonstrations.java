package org.driftml.quickstart;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.driftml.drift.FeedbackPrompt;
import org.driftml.model.Policy;
import org.driftml.text.ChatMessage;
import org.driftml.train.SftTrainer;

/**
 * Imperfect demonstrations for the starting policy's supervised fine-tuning, so it starts partly right: first
 * answers are correct only {@link #FIRST_TRY_CORRECT} of the time (otherwise a near miss that meets one constraint),
 * and a share of demonstrations continue past a user's complaint to a revision that is correct
 * {@link #REVISION_CORRECT} of the time, half of them with DRIFT's improvement instruction in view (as an instruct
 * model has seen such instructions). These rates are fixed before any method runs.
 */
final class Demonstrations {
    static final double FIRST_TRY_CORRECT = 0.4;
    static final double WITH_REVISION = 1.0;
    static final double REVISION_CORRECT = 0.8;

    private Demonstrations() {}

    static List<SftTrainer.Example> build(Policy policy, int n, Random r) {
        List<SftTrainer.Example> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            WordTask t = WordTask.sample(r);
            List<ChatMessage> x = List.of(ChatMessage.user(t.prompt()));
            String first = r.nextDouble() < FIRST_TRY_CORRECT ? t.answer() : nearMiss(t, r);
            out.add(example(policy, x, first));
            if (t.firstMissed(first) != null && r.nextDouble() < WITH_REVISION) {
                String complaint = t.firstMissed(first).complaint(first, r);
                List<ChatMessage> convo = r.nextBoolean() ? FeedbackPrompt.chat(x, first, complaint)
                        : List.of(x.get(0), ChatMessage.assistant(first), ChatMessage.user(complaint));
                String revision = r.nextDouble() < REVISION_CORRECT ? t.answer() : nearMiss(t, r);
                out.add(example(policy, convo, revision));
            }
        }
        return out;
    }

    static String nearMiss(WordTask t, Random r) {
        List<String> near = t.nearMisses();
        return near.isEmpty() ? WordTask.LEXICON.get(r.nextInt(WordTask.LEXICON.size()))
                : near.get(r.nextInt(near.size()));
    }

    static SftTrainer.Example example(Policy policy, List<ChatMessage> conversation, String reply) {
        long[] text = policy.encodeText(reply);
        long[] completion = java.util.Arrays.copyOf(text, text.length + 1);
        completion[text.length] = policy.tokenizer().tokenId("<|im_end|>").orElseThrow();
        return new SftTrainer.Example(policy.encodeChat(conversation), completion);
    }
}
