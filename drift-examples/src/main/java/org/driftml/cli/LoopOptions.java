package org.driftml.cli;

import java.nio.file.Path;
import java.util.List;
import org.driftml.drift.DriftConfig;
import org.driftml.drift.Recipe;
import org.driftml.settings.Setting;
import org.driftml.settings.Settings;
import org.driftml.train.DpoConfig;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What drift warmstart and drift train share: the folders, the devices and workers, the recipe, and the declared
 * settings ({@link #SETTINGS}), whose defaults are the recipe's ({@link Recipe}).
 */
final class LoopOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model folder to start from")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "DIR", description = "Folder written by drift mine")
    Path data;

    @Option(names = "--output", required = true, paramLabel = "DIR",
            description = {"Run folder: warmstart/ and iteration-k/ model folders with pairs, metrics, plots,",
                    "summary.json. Running again on it resumes where it stopped."})
    Path output;

    @Option(names = "--recipe", paramLabel = "paper|release",
            description = {"The experiment every setting starts from, each value with its source (see",
                    "--print-config): paper (default) is Eq. 2 as Tables 5 and 6 train it; release is the authors'",
                    "configs, the same with rpo_alpha 0.001. Any option given overrides its recipe value."})
    String recipe;

    @Option(names = "--warmstart-epochs", paramLabel = "N",
            description = "Epochs over the seed pairs (default: the recipe's, 3 as in the paper's Table 5)")
    Integer warmstartEpochs;

    @Option(names = "--no-warm-start", description = "Skip the warm start even when seed pairs exist")
    boolean noWarmStart;


    @Mixin
    DeviceOption device = new DeviceOption();

    @Mixin
    LoraOptions lora = new LoraOptions();

    @Mixin
    WorkerOptions workers = new WorkerOptions();

    @Option(names = "--config", paramLabel = "FILE",
            description = {"JSON or YAML settings whose keys are these long option names (or with underscores);",
                    "the command line wins"})
    Path configFile;

    /**
     * The settings both commands take as options, from their declarations: the reference, sampling, lengths and
     * run of {@link DriftConfig}, and every DPO setting but the epochs (applied to both stages; the warm start's
     * epochs are {@code --warmstart-epochs}, an iteration's are one, as in the paper).
     */
    static final List<Setting<?>> SETTINGS = Settings.concat(List.of(DriftConfig.REFERENCE), DriftConfig.SAMPLING,
            DriftConfig.LENGTHS, DriftConfig.RUN, DpoConfig.ALL.stream().filter(s -> s != DpoConfig.EPOCHS).toList());

    /**
     * A {@code --config} file written by {@code --print-config} holds both stages' epochs as {@code num_train_epochs}
     * ({@code warm_start}: null without the warm start): read them as {@code --warmstart-epochs} or
     * {@code --no-warm-start}, unless the command line gave either; an iteration's epochs are one.
     */
    void epochsFrom(CommandSpec spec, ConfigFile.Applied applied) {
        com.fasterxml.jackson.databind.JsonNode epochs = applied.derived().remove("num_train_epochs");
        if (epochs == null) {
            return;
        }
        String at = applied.file() + ": \"num_train_epochs\" = " + epochs;
        if (!epochs.isObject() || !epochs.path("iteration").isInt() || epochs.get("iteration").asInt() != 1
                || !(epochs.path("warm_start").isNull() || epochs.path("warm_start").isInt())) {
            throw new IllegalArgumentException(at + ": expected {\"warm_start\": N or null, \"iteration\": 1} "
                    + "(an iteration trains one epoch, as the paper's Table 6)");
        }
        var parsed = spec.commandLine().getParseResult();
        if (parsed != null && (parsed.hasMatchedOption("--warmstart-epochs")
                || parsed.hasMatchedOption("--no-warm-start"))) {
            return;  // the command line wins
        }
        if (epochs.get("warm_start").isNull()) {
            noWarmStart = true;
            applied.set().add(spec.findOption("--no-warm-start"));
        } else {
            warmstartEpochs = epochs.get("warm_start").asInt();
            applied.set().add(spec.findOption("--warmstart-epochs"));
        }
    }

    /** What help shows as {@code s}'s default: the paper recipe's value and source, else the declared default. */
    static Recipe.Value byDefault(Setting<?> s) {
        Recipe.Value v = Recipe.PAPER.value(s);
        return v != null ? v : new Recipe.Value(s.defaultValue(), s.source());
    }

    /** The recipe {@code --recipe} names (the paper's by default). */
    Recipe recipe() {
        try {
            return recipe == null ? Recipe.PAPER : Recipe.parse(recipe);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--recipe: " + e.getMessage());
        }
    }

    /** The recipe with what {@code spec}'s command line and {@code --config} gave. */
    DriftConfig config(CommandSpec spec) {
        DriftConfig c = SettingOptions.applied(spec, recipe().config(), DriftConfig.ALL);
        DpoConfig iteration = SettingOptions.applied(spec, c.iteration(), DpoConfig.ALL);
        DpoConfig warm = SettingOptions.applied(spec, c.warmStart(), DpoConfig.ALL);
        if (warmstartEpochs != null) {
            if (warmstartEpochs < 1) {
                throw new IllegalArgumentException("--warmstart-epochs must be at least 1, got " + warmstartEpochs);
            }
            warm = warm.withEpochs(warmstartEpochs);
        }
        return c.withDpo(noWarmStart ? null : warm, iteration).withLora(lora.config());
    }
}
