package org.driftml.cli;

import java.io.IOException;
import java.io.PrintWriter;
import org.driftml.output.Progress;
import org.driftml.data.DsatMiner;
import org.driftml.data.MinedFolder;
import org.driftml.drift.DriftConfig;
import org.driftml.drift.DriftTrainer;
import org.driftml.drift.Recipe;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.output.OutputConflictException;
import org.driftml.output.OutputLock;
import org.driftml.output.RunFolder;
import org.driftml.parallel.ProcessGroup;
import org.driftml.parallel.WorldEnv;
import org.driftml.settings.Setting;
import picocli.CommandLine;

/** What drift warmstart and drift train share: read the mined folder, run the loop, print the summary table. */
final class LoopCommand {
    private LoopCommand() {}

    /**
     * Runs the loop with the settings {@code spec} was given (after {@code --config}, which may set every declared
     * setting), changed last by {@code fixed} (drift warmstart: K = 0).
     */
    static int run(CommandLine.Model.CommandSpec spec, LoopOptions o, java.util.function.UnaryOperator<DriftConfig> fixed)
            throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        String name = "drift " + spec.name();
        DriftConfig config;
        ComputeDevice on;
        DsatMiner.Mined mined;
        WorldEnv world;
        try {
            ConfigFile.Applied applied = o.configFile == null ? ConfigFile.Applied.NONE
                    : ConfigFile.apply(spec, o.configFile);
            if (o.configFile != null) {
                o.epochsFrom(spec, applied);
            }
            config = fixed.apply(o.config(spec));
            java.nio.file.Path reward = rewardModel(spec);
            o.workers.checkSplit(config.iteration());  // before the work: the batch must split over the processes
            DriftConfig resolved = config;
            if (SettingOptions.checkedAndPrinted(spec, applied, () -> printed(spec, o, resolved, applied))) {
                return 0;  // before the model and the data are read: the settings alone
            }
            boolean ranks = config.data() == DriftConfig.Data.ULTRAFEEDBACK
                    && config.method() == DriftConfig.Method.ITERDPO;
            if (ranks && reward == null) {
                throw new IllegalArgumentException("--setting ultrafeedback --method iterdpo ranks two samples by a "
                        + "reward model: give --reward-model DIR");
            }
            if (!ranks && reward != null) {
                throw new IllegalArgumentException("--reward-model is used by --setting ultrafeedback --method "
                        + "iterdpo only");
            }
            if (reward != null && !java.nio.file.Files.isRegularFile(reward.resolve("config.json"))) {
                throw new IllegalArgumentException("--reward-model: " + reward + " has no config.json");
            }
            on = o.device.resolve();
            mined = MinedFolder.read(o.data);
            if (config.warmStart() != null && mined.seeds().isEmpty()) {
                // The paper's recipe starts with the warm start; skipping it without a word ran another experiment.
                throw new IllegalArgumentException("--data: " + o.data + " holds no DSAT-to-SAT seed pairs, so the "
                        + "warm start has nothing to train on; give --no-warm-start to run without it");
            }
            org.driftml.model.spec.ModelConfig model = org.driftml.model.Policy.checkFolder(o.model);
            if (config.maxNewTokens() >= model.maxPositionEmbeddings()) {
                // Each sample's KV cache is sized for prompt + max-new-tokens: 10^9 asked for 128 GB.
                throw new IllegalArgumentException("--max-new-tokens " + config.maxNewTokens() + " leaves no room for "
                        + "a prompt in the model's " + model.maxPositionEmbeddings() + " positions "
                        + "(max_position_embeddings in " + o.model + ")");
            }
            if (config.lora() != null) {
                try {
                    config.lora().checkFits(model);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--lora-r: " + e.getMessage());
                }
            }
            world = o.workers.world(config.lora() != null, on);
        } catch (CommandLine.ParameterException | IllegalArgumentException | IllegalStateException | IOException e) {
            err.println(name + ": " + SettingOptions.message(e));
            err.flush();
            return 2;
        }
        if (o.workers.launches()) {
            return o.workers.launch(spec, spec.name(), err);
        }
        if (world.worldSize() > 1) {
            on = o.device.forWorker(on, world);
            try (ProcessGroup group = o.workers.join(world, on, spec)) {
                // Rank 0 locks and writes the output; the others train alongside (DriftTrainer.distributed).
                return group.rank() == 0 ? locked(spec, name, config, on, mined, o, group)
                        : run(spec, name, config, on, mined, o, group);
            }
        }
        return locked(spec, name, config, on, mined, o, null);
    }

    /**
     * What {@code --print-config} prints: the recipe, then every declared setting the command takes as {@code config}
     * resolved it (the DPO ones: an iteration's), each with its source, and both stages' epochs.
     */
    private static PrintedConfig printed(CommandLine.Model.CommandSpec spec, LoopOptions o, DriftConfig config,
            ConfigFile.Applied applied) {
        Recipe recipe = o.recipe();
        PrintedConfig p = new PrintedConfig();
        p.put("recipe", recipe.key(), sourceOrDefault(applied.sourceOf(spec, spec.findOption("--recipe"))));
        WorkerOptions.Processes processes = o.workers.processes();
        for (Setting<?> s : ((SettingOptions.Declared) spec.userObject()).settings()) {
            Object value = DriftConfig.ALL.contains(s) ? config.get(s) : config.iteration().get(s);
            Recipe.Value byRecipe = recipe.value(s);
            p.put(s, value, SettingOptions.sourceOf(spec, applied, s, byRecipe != null ? byRecipe.source()
                    : "default:" + s.source()), processes, config.iteration());
        }
        java.util.Map<String, Object> epochs = new java.util.LinkedHashMap<>();
        epochs.put("warm_start", config.warmStart() == null ? null : config.warmStart().epochs());
        epochs.put("iteration", config.iteration().epochs());
        String given = applied.sourceOf(spec, spec.findOption(config.warmStart() == null ? "--no-warm-start"
                : "--warmstart-epochs"));
        p.put("num_train_epochs", epochs, given != null ? given : recipe.warmStartEpochs().source() + ", "
                + recipe.iterationEpochs().source());
        return p;
    }

    private static String sourceOrDefault(String given) {
        return given != null ? given : "default";
    }

    /** drift train's --reward-model as the command line or --config gave it (drift warmstart has none). */
    private static java.nio.file.Path rewardModel(CommandLine.Model.CommandSpec spec) {
        CommandLine.Model.OptionSpec option = spec.findOption("--reward-model");
        return option == null ? null : option.getValue();
    }

    /** The only process or rank 0: the output folder is this process's, locked while the loop runs. */
    private static int locked(CommandLine.Model.CommandSpec spec, String name, DriftConfig config, ComputeDevice on,
            DsatMiner.Mined mined, LoopOptions o, ProcessGroup group) throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        RunFolder lock;
        try {
            org.driftml.data.MinedFolder.requireNotMined(o.output);
            lock = RunFolder.at(o.output).by(name).apartFrom(o.model, "model folder (--model)")
                    .apartFrom(o.data, "mined folder (--data)").onStaleLock(m -> err.println(name + ": " + m))
                    .claim();
        } catch (IllegalArgumentException | OutputLock.HeldException e) {
            err.println(name + ": --output: " + e.getMessage());
            err.flush();
            return 2;
        }
        try (lock) {
            return run(spec, name, config, on, mined, o, group);
        }
    }

    private static int run(CommandLine.Model.CommandSpec spec, String name, DriftConfig config, ComputeDevice on,
            DsatMiner.Mined mined, LoopOptions o, ProcessGroup group) throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        boolean writer = group == null || group.rank() == 0;
        if (writer) {
            err.printf("%s: %d DSAT items, %d seed pairs, %d satisfying replies from %s%n", name,
                    mined.items().size(), mined.seeds().size(), mined.satisfying().size(), o.data);
            err.flush();
        }
        DriftTrainer.Result result;
        java.nio.file.Path rewardFolder = rewardModel(spec);
        try (org.driftml.model.RewardModel reward = rewardFolder == null ? null
                : org.driftml.model.RewardModel.load(rewardFolder, config.precision(), on)) {
            DriftTrainer trainer = new DriftTrainer(config).device(on).rewardModel(reward)
                    .progress(writer ? Progress.printing(System.err) : Progress.SILENT);
            if (group != null) {
                trainer.distributed(group, o.workers.zeroStage(group));
            }
            result = trainer.train(o.model, mined, o.output);
        } catch (OutputConflictException | IllegalArgumentException e) {
            // Bad input or a folder of another run; a failure while training (a loss that is no longer finite)
            // goes on to the command line's handler: exit 1.
            err.println(name + ": " + e.getMessage());
            err.flush();
            return 2;
        }
        if (!writer) {
            return 0;
        }
        PrintWriter out = spec.commandLine().getOut();
        out.print(result.table());
        out.printf("final model: %s%n", result.finalModel());
        out.flush();
        return 0;
    }
}
