package org.driftml.examples;

import java.nio.file.Path;
import java.util.List;
import org.driftml.data.Conversation;
import org.driftml.labelling.DissatisfactionDetector;
import org.driftml.data.DsatMiner;
import org.driftml.data.OnBadRecord;
import org.driftml.data.WildFeedbackAnnotations;

/**
 * Reads chat logs in WildFeedback's annotated format, measures the rule-based dissatisfaction detector against the
 * logs' own labels, and mines what DRIFT trains on: DSAT items (the reply a user was unhappy with), DSAT-to-SAT seed
 * pairs and satisfying replies.
 *
 * <pre>MineLogs LOGS.jsonl</pre>
 */
public final class MineLogs {
    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: MineLogs LOGS.jsonl");
            System.exit(2);
        }
        WildFeedbackAnnotations.Result read = WildFeedbackAnnotations.read(Path.of(args[0]), OnBadRecord.SKIP);
        System.out.println("read: " + read.report());
        List<Conversation> logs = read.conversations();
        System.out.println("detector vs the logs' labels: " + DissatisfactionDetector.defaults().evaluate(logs));
        DsatMiner.Mined mined = DsatMiner.mine(logs);
        mined.counts().forEach((what, n) -> System.out.printf("%-40s %d%n", what, n));
    }

    private MineLogs() {}
}
