package org.driftml.cli;

import java.util.concurrent.Callable;
import org.driftml.drift.DriftConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code drift warmstart}: DPO on the mined DSAT-to-SAT seed pairs, the paper's warm start. */
@Command(name = "warmstart", defaultValueProvider = PaperDefaults.class, mixinStandardHelpOptions = true,
        description = {"Warm start (the paper's first stage): DPO on the seed pairs drift mine found, where a user",
                "was dissatisfied, the assistant revised, and the user was then satisfied (chosen = the revision,",
                "rejected = the original reply). Writes OUTPUT/warmstart/, a model folder; drift train on the same",
                "--output continues from it."})
final class WarmstartCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    LoopOptions options;

    @Override
    public Integer call() throws Exception {
        return LoopCommand.run(spec, options, new LoopCommand.Choice() {
            @Override
            public DriftConfig.Method method() {
                return DriftConfig.Method.DRIFT;
            }

            @Override
            public int iterations() {
                return 0;
            }
        });
    }
}
