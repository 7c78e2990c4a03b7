package org.example;

import java.nio.file.Path;
import java.util.List;
import org.driftml.data.PreferencePair;
import org.driftml.model.Policy;
import org.driftml.model.spec.Precision;
import org.driftml.model.Sampler;
import org.driftml.report.StepMetrics;
import org.driftml.text.ChatMessage;
import org.driftml.train.DpoConfig;
import org.driftml.train.DpoTrainer;

/** DPO on two pairs of its own, a reply, and the trained model saved and loaded again: drift as a dependency. */
public final class Consumer {
    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]), out = Path.of(args[1]);
        List<PreferencePair> pairs = List.of(
                PreferencePair.conversational(List.of(ChatMessage.user("2+2?")), "4", "5"),
                PreferencePair.conversational(List.of(ChatMessage.user("3*3?")), "9", "6"));
        try (Policy policy = Policy.load(model, Precision.FP32)) {
            List<StepMetrics> steps = DpoTrainer.train(policy, pairs,
                    DpoConfig.iteration().withLearningRate(1e-3).withBatch(1, 1).withEpochs(2));
            String reply = policy.generate(List.of(List.of(ChatMessage.user("2+2?"))),
                    Sampler.Settings.greedy(8, policy.endIds())).get(0);
            policy.save(out);
            try (Policy again = Policy.load(out, Precision.FP32)) {
                String same = again.generate(List.of(List.of(ChatMessage.user("2+2?"))),
                        Sampler.Settings.greedy(8, again.endIds())).get(0);
                if (!same.equals(reply)) {
                    throw new IllegalStateException("the saved model replies '" + same + "', not '" + reply + "'");
                }
            }
            System.out.printf("CONSUMER OK: %d steps, loss %.4f -> %.4f, reply '%s', jackson %s / yaml %s%n",
                    steps.size(), steps.get(0).loss(), steps.get(steps.size() - 1).loss(), reply,
                    com.fasterxml.jackson.databind.cfg.PackageVersion.VERSION,
                    com.fasterxml.jackson.dataformat.yaml.PackageVersion.VERSION);
        }
    }
}
