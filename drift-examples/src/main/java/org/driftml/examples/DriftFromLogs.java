package org.driftml.examples;

import java.nio.file.Path;
import org.driftml.data.DsatMiner;
import org.driftml.data.LogFormat;
import org.driftml.data.OnBadRecord;
import org.driftml.drift.DriftConfig;
import org.driftml.drift.DriftTrainer;

/**
 * DRIFT from chat logs: mine the dissatisfied turns, warm-start on the DSAT-to-SAT pairs, then one iteration that
 * samples a fresh positive for each reply a user disliked and trains against it (the paper's recipe, K = 1). Every
 * stage is a model folder under the output; rerunning resumes.
 *
 * <pre>DriftFromLogs MODEL_DIR LOGS.jsonl OUTPUT_DIR</pre>
 */
public final class DriftFromLogs {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: DriftFromLogs MODEL_DIR LOGS.jsonl OUTPUT_DIR");
            System.exit(2);
        }
        // The logs' own satisfaction labels (a detector or a judge could relabel them here).
        DsatMiner.Mined mined = LogFormat.WILDFEEDBACK.mine(Path.of(args[1]), OnBadRecord.FAIL, labels -> labels)
                .mined();
        DriftTrainer.Result result = new DriftTrainer(DriftConfig.paper().withIterations(1))
                .train(Path.of(args[0]), mined, Path.of(args[2]));
        System.out.print(result.table());
        System.out.println("final model: " + result.finalModel());
    }

    private DriftFromLogs() {}
}
