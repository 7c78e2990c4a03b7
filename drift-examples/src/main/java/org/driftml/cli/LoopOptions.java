package org.driftml.cli;

import java.nio.file.Path;
import java.util.List;
import org.driftml.drift.DriftConfig;
import org.driftml.settings.Setting;
import org.driftml.settings.Settings;
import org.driftml.train.DpoConfig;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What drift warmstart and drift train share: the folders, the devices and workers, and the declared settings
 * ({@link #SETTINGS}), whose defaults are the paper's recipe ({@link DriftConfig#paper()}).
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

    @Option(names = "--warmstart-epochs", paramLabel = "N",
            description = "Epochs over the seed pairs (default: the warm-start preset's, the release's 3)")
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

    /** The paper's recipe with what {@code spec}'s command line and {@code --config} gave. */
    DriftConfig config(CommandSpec spec) {
        DriftConfig c = SettingOptions.applied(spec, DriftConfig.paper(), DriftConfig.ALL);
        DpoConfig iteration = SettingOptions.applied(spec, c.iteration(), DpoConfig.ALL);
        DpoConfig warm = SettingOptions.applied(spec, c.warmStart(), DpoConfig.ALL);
        if (warmstartEpochs != null) {
            warm = warm.withEpochs(warmstartEpochs);
        }
        return c.withDpo(noWarmStart ? null : warm, iteration).withLora(lora.config());
    }
}
