package org.driftml.cli;

import java.util.List;
import java.util.concurrent.Callable;
import org.driftml.drift.DriftConfig;
import org.driftml.settings.Setting;
import org.driftml.settings.Settings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code drift train}: the warm start, then K iterations of DRIFT, SPIN or IterDPO. */
@Command(name = "train", mixinStandardHelpOptions = true, modelTransformer = SettingOptions.class,
        description = {"Iterative preference training from mined logs. Each iteration samples from the current",
                "policy, builds pairs, and trains one epoch of DPO:",
                "  drift    chosen = a fresh sample that saw the user's feedback, rejected = the reply they disliked",
                "  spin     chosen = the reply the user was satisfied with, rejected = a fresh sample",
                "  iterdpo  chosen = a sample that saw the feedback, rejected = a sample that did not",
                "Every stage leaves a model folder under --output with its pairs, metrics, plots and summary;",
                "rerun the same command to resume after a crash. Ends with a summary table of implicit reward",
                "margins s and the share of pairs with sigma(-s) >= 0.1 (the paper's Lemma 1 diagnostic)."})
final class TrainCommand implements Callable<Integer>, SettingOptions.Declared {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    LoopOptions options;

    @CommandLine.Option(names = "--reward-model", paramLabel = "DIR",
            description = {"--setting ultrafeedback --method iterdpo: the sequence classifier that ranks the two",
                    "samples (Hugging Face folder; the paper's is OpenAssistant/reward-model-deberta-v3-large-v2)"})
    java.nio.file.Path rewardModel;  // read by LoopCommand from the spec, after --config

    // --method and --iterations, and LoopOptions.SETTINGS, are options made from their declarations.
    private static final List<Setting<?>> SETTINGS = Settings.concat(List.of(DriftConfig.METHOD, DriftConfig.SETTING,
            DriftConfig.ITERATIONS), LoopOptions.SETTINGS);

    @Override
    public List<Setting<?>> settings() {
        return SETTINGS;
    }

    @Override
    public org.driftml.drift.Recipe.Value defaultOf(Setting<?> s) {
        return LoopOptions.byDefault(s);
    }

    @Override
    public Integer call() throws Exception {
        return LoopCommand.run(spec, options, c -> c);
    }
}
