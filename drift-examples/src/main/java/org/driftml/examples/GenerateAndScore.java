package org.driftml.examples;

import java.nio.file.Path;
import java.util.List;
import org.driftml.model.Policy;
import org.driftml.model.spec.Precision;
import org.driftml.model.Sampler;
import org.driftml.text.ChatMessage;

/**
 * Asks a model a question through its chat template, greedily, and scores an answer: the summed log-probability of
 * its tokens, the quantity DPO compares between a chosen and a rejected reply.
 *
 * <pre>GenerateAndScore MODEL_DIR "QUESTION" "ANSWER"</pre>
 */
public final class GenerateAndScore {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: GenerateAndScore MODEL_DIR \"QUESTION\" \"ANSWER\"");
            System.exit(2);
        }
        try (Policy policy = Policy.load(Path.of(args[0]), Precision.FP32)) {
            List<ChatMessage> chat = List.of(ChatMessage.user(args[1]));
            String reply = policy.generate(List.of(chat), Sampler.Settings.greedy(64, policy.endIds())).get(0);
            System.out.printf("reply: %s%n", reply);
            System.out.printf("log-prob of \"%s\": %.4f%n", args[2], policy.score(chat, args[2]));
        }
    }

    private GenerateAndScore() {}
}
