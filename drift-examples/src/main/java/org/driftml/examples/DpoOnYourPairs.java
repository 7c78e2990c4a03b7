package org.driftml.examples;

import java.nio.file.Path;
import java.util.List;
import org.driftml.data.PreferencePair;
import org.driftml.data.PreferencePairs;
import org.driftml.model.Policy;
import org.driftml.model.spec.Precision;
import org.driftml.report.StepMetrics;
import org.driftml.train.DpoConfig;
import org.driftml.train.DpoTrainer;

/**
 * DPO on your own preference pairs (TRL's conversational JSON Lines: prompt messages, chosen, rejected), with DRIFT's
 * recipe for one iteration, and the trained model saved as a Hugging Face folder.
 *
 * <pre>DpoOnYourPairs MODEL_DIR PAIRS.jsonl OUTPUT_DIR</pre>
 */
public final class DpoOnYourPairs {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: DpoOnYourPairs MODEL_DIR PAIRS.jsonl OUTPUT_DIR");
            System.exit(2);
        }
        List<PreferencePair> pairs = PreferencePairs.read(Path.of(args[1]));
        try (Policy policy = Policy.load(Path.of(args[0]), Precision.FP32)) {
            List<StepMetrics> steps = DpoTrainer.train(policy, pairs, DpoConfig.iteration());
            policy.save(Path.of(args[2]));
            StepMetrics last = steps.get(steps.size() - 1);
            System.out.printf("%d pairs, %d steps: loss %.4f, reward margin %.4f; model in %s%n", pairs.size(),
                    steps.size(), last.loss(), last.margin(), args[2]);
        }
    }

    private DpoOnYourPairs() {}
}
