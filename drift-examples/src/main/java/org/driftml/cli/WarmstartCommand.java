package org.driftml.cli;

import java.util.List;
import java.util.concurrent.Callable;
import org.driftml.settings.Setting;
import org.driftml.drift.DriftConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code drift warmstart}: DPO on the mined DSAT-to-SAT seed pairs, the paper's warm start. */
@Command(name = "warmstart", mixinStandardHelpOptions = true, modelTransformer = SettingOptions.class,
        description = {"Warm start (the paper's first stage): DPO on the seed pairs drift mine found, where a user",
                "was dissatisfied, the assistant revised, and the user was then satisfied (chosen = the revision,",
                "rejected = the original reply). Writes OUTPUT/warmstart/, a model folder; drift train on the same",
                "--output continues from it."})
final class WarmstartCommand implements Callable<Integer>, SettingOptions.Declared {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    LoopOptions options;

    @Override
    public Integer call() throws Exception {
        // K = 0: the warm start alone (drift train on the same folder continues from it).
        return LoopCommand.run(spec, options, c -> c.withMethod(DriftConfig.Method.DRIFT).withIterations(0));
    }

    @Override
    public org.driftml.drift.Recipe.Value defaultOf(Setting<?> s) {
        return LoopOptions.byDefault(s);
    }

    @Override
    public List<Setting<?>> settings() {
        return LoopOptions.SETTINGS;
    }
}
