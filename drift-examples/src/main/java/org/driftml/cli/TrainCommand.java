package org.driftml.cli;

import java.util.concurrent.Callable;
import org.driftml.drift.DriftConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code drift train}: the warm start, then K iterations of DRIFT, SPIN or IterDPO. */
@Command(name = "train", defaultValueProvider = PaperDefaults.class, mixinStandardHelpOptions = true,
        description = {"Iterative preference training from mined logs. Each iteration samples from the current",
                "policy, builds pairs, and trains one epoch of DPO:",
                "  drift    chosen = a fresh sample that saw the user's feedback, rejected = the reply they disliked",
                "  spin     chosen = the reply the user was satisfied with, rejected = a fresh sample",
                "  iterdpo  chosen = a sample that saw the feedback, rejected = a sample that did not",
                "Every stage leaves a model folder under --output with its pairs, metrics, plots and summary;",
                "rerun the same command to resume after a crash. Ends with a summary table of implicit reward",
                "margins s and the share of pairs with sigma(-s) >= 0.1 (the paper's Lemma 1 diagnostic)."})
final class TrainCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    LoopOptions options;

    @Option(names = "--method", defaultValue = "drift", paramLabel = "drift|spin|iterdpo",
            description = "Pair-building method (default: drift)")
    String method;

    @Option(names = "--iterations", defaultValue = "2", paramLabel = "K", description = "Iterations (default: 2)")
    int iterations;

    @Override
    public Integer call() throws Exception {
        return LoopCommand.run(spec, options, new LoopCommand.Choice() {
            @Override
            public DriftConfig.Method method() {
                try {
                    return DriftConfig.Method.parse(method);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--method must be drift, spin or iterdpo, got " + method);
                }
            }

            @Override
            public int iterations() {
                return iterations;
            }
        });
    }
}
