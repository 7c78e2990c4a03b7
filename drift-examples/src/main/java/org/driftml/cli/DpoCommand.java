package org.driftml.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.driftml.output.Progress;
import org.driftml.data.PreferencePair;
import org.driftml.data.PreferencePairs;
import org.driftml.drift.DriftConfig;
import org.driftml.settings.Setting;
import org.driftml.settings.Settings;
import org.driftml.kernels.StepScope;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.LoraConfig;
import org.driftml.model.spec.MalformedCheckpointException;
import org.driftml.model.spec.ModelConfig;
import org.driftml.model.Policy;
import org.driftml.model.spec.Precision;
import org.driftml.output.OutputConflictException;
import org.driftml.output.OutputLock;
import org.driftml.output.RunFolder;
import org.driftml.output.RunRecord;
import org.driftml.parallel.ProcessGroup;
import org.driftml.parallel.WorldEnv;
import org.driftml.report.StepMetrics;
import org.driftml.train.DpoConfig;
import org.driftml.train.PairTokenizer;
import org.driftml.train.PreferenceTraining;
import org.driftml.train.ReferencePolicy;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code drift dpo}: DPO on preference pairs, TRL's DPOTrainer with DRIFT's recipe as presets. */
@Command(name = "dpo", mixinStandardHelpOptions = true, modelTransformer = SettingOptions.class,
        description = {"Train a model with DPO on preference pairs (JSON Lines, TRL's conversational or plain format).",
                "The output folder becomes a model folder (weights, config, tokenizer) that drift and transformers",
                "load as they are, with metrics.jsonl, loss.png, rewards.png and checkpoint-N folders beside it.",
                "Presets are DRIFT's released recipe: warm-start (3 epochs) and iteration (1 epoch), both RMSprop,",
                "lr 5e-7, linear schedule with warmup 0.1, beta 0.1, batch 4, rpo_alpha 0.001."})
final class DpoCommand implements Callable<Integer>, SettingOptions.Declared {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Policy to train (HF folder)")
    Path model;

    @Option(names = "--pairs", required = true, paramLabel = "FILE", description = "Preference pairs, JSON Lines")
    Path pairsFile;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Where the trained model goes")
    Path output;

    @Option(names = "--preset", defaultValue = "iteration", paramLabel = "warm-start|iteration",
            description = "Starting settings (default: ${DEFAULT-VALUE})")
    String preset;

    // Every DPO setting (DpoConfig.ALL) and the two lengths are options too, added from their declarations
    // (SettingOptions); their defaults are the iteration preset's and the paper's.
    int maxPromptLength;
    int maxLength;

    @Option(names = "--max-steps", defaultValue = "2147483647", paramLabel = "N",
            description = "Train exactly N steps: sizes the learning-rate schedule and overrides --epochs (TRL's max_steps)")
    int maxSteps;

    @Option(names = "--save-steps", defaultValue = "0", paramLabel = "N",
            description = "Checkpoint every N steps (default: at the end only)")
    int saveSteps;

    @Option(names = "--save-total-limit", defaultValue = "0", paramLabel = "N",
            description = "Keep only the newest N checkpoints (default: all)")
    int saveTotalLimit;

    @Option(names = "--truncation-mode", defaultValue = "paper", paramLabel = "paper|keep_start",
            description = {"paper (default): the prompt keeps its last --max-prompt-length tokens, then completions",
                    "are cut to --max-length, as the TRL DRIFT used; keep_start: TRL 1.13's default, each prompt +",
                    "completion keeps its first --max-length tokens and a pair whose prompt fills it is dropped"})
    String truncationMode;

    @Mixin
    DeviceOption device = new DeviceOption();


    @Option(names = "--precompute-reference",
            description = "Score the reference once before training, so only one model is held while training")
    boolean precomputeReference;

    @Mixin
    LoraOptions lora = new LoraOptions();

    @Option(names = "--adapter", paramLabel = "DIR",
            description = "Continue training this PEFT LoRA adapter folder (its settings instead of --lora-*)")
    Path adapter;

    @Option(names = "--merge", description = "With LoRA: also write the base with the adapters merged in, a full "
            + "model folder, to OUTPUT/merged")
    boolean merge;

    @Mixin
    WorkerOptions workers = new WorkerOptions();

    @Option(names = "--resume", description = "Continue from the newest checkpoint in --output")
    boolean resume;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "Data order (default: 42)")
    long seed;

    @Option(names = "--config", paramLabel = "FILE",
            description = {"JSON or YAML (.yaml, .yml) settings: keys are the long option names (learning-rate,",
                    "or TRL's learning_rate), values as on the command line; the command line wins"})
    Path configFile;

    DpoConfig config() {
        DpoConfig c = switch (preset) {
            case "warm-start" -> DpoConfig.warmStart();
            case "iteration" -> DpoConfig.iteration();
            default -> throw new CommandLine.ParameterException(spec.commandLine(),
                    "--preset must be warm-start or iteration, got '" + preset + "'");
        };
        return SettingOptions.applied(spec, c, DpoConfig.ALL);
    }

    @Override
    public List<Setting<?>> settings() {
        return Settings.concat(DpoConfig.ALL, DriftConfig.LENGTHS, List.of(DriftConfig.DTYPE));
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        ConfigFile.Applied applied = ConfigFile.Applied.NONE;
        if (configFile != null) {
            try {
                applied = ConfigFile.apply(spec, configFile);
            } catch (CommandLine.ParameterException e) {
                err.println("drift dpo: " + e.getMessage());
                return 2;
            }
        }
        // Everything is checked before the output folder is touched or a model loaded.
        DpoConfig config;
        Precision precision;
        LoraConfig loraConfig;
        try {
            config = config();
            maxPromptLength = SettingOptions.givenOr(spec, PairTokenizer.MAX_PROMPT_LENGTH);
            maxLength = SettingOptions.givenOr(spec, PairTokenizer.MAX_LENGTH);
            precision = SettingOptions.givenOr(spec, DriftConfig.DTYPE);
            checkLimits();
            loraConfig = lora.config();
            if (adapter != null && loraConfig != null) {
                throw new IllegalArgumentException("--adapter brings its own settings: leave out --lora-r");
            }
            if (merge && loraConfig == null && adapter == null) {
                throw new IllegalArgumentException("--merge needs adapters: give --lora-r or --adapter");
            }
            if (adapter != null && !Files.isRegularFile(adapter.resolve(Policy.ADAPTER_CONFIG_FILE))) {
                throw new IllegalArgumentException("--adapter: " + adapter + " has no "
                        + Policy.ADAPTER_CONFIG_FILE + " (is it a PEFT adapter folder?)");
            }
            workers.checkSplit(config);
            Map<Setting<?>, Object> resolved = new LinkedHashMap<>();
            DpoConfig.ALL.forEach(s -> resolved.put(s, config.get(s)));
            resolved.put(PairTokenizer.MAX_PROMPT_LENGTH, maxPromptLength);
            resolved.put(PairTokenizer.MAX_LENGTH, maxLength);
            resolved.put(DriftConfig.DTYPE, precision);
            ConfigFile.Applied given = applied;
            if (SettingOptions.checkedAndPrinted(spec, given, () -> {
                PrintedConfig printed = new PrintedConfig();
                resolved.forEach((s, v) -> printed.put(s, v, SettingOptions.sourceOf(spec, given, s,
                        "default:" + s.source()), workers.processes(), config));
                return printed;
            })) {
                return 0;
            }
        } catch (IllegalArgumentException | CommandLine.ParameterException e) {
            err.println("drift dpo: " + SettingOptions.message(e));
            return 2;
        }
        ComputeDevice on = device.resolve(err, "drift dpo");
        if (on == null) {
            return 2;
        }
        List<PreferencePair> pairs;
        try {
            pairs = PreferencePairs.read(pairsFile);
            if (pairs.isEmpty()) {
                throw new IllegalArgumentException(pairsFile + ": no pairs (the file is empty)");
            }
            // The weights' headers too (cheap: no tensor is read), so a broken folder is refused before the output
            // folder is made.
            org.driftml.model.spec.ModelConfig shape = Policy.checkFolder(model);
            if (loraConfig != null) {
                try {
                    loraConfig.checkFits(shape);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--lora-r: " + e.getMessage());
                }
            }
        } catch (IllegalArgumentException | MalformedCheckpointException e) {
            err.println("drift dpo: " + e.getMessage());
            return 2;
        }
        WorldEnv world;
        try {
            world = workers.world(loraConfig != null || adapter != null, on);
        } catch (IllegalArgumentException e) {
            err.println("drift dpo: " + e.getMessage());
            return 2;
        }
        if (workers.launches()) {
            return workers.launch(spec, "dpo", err);
        }
        if (world.worldSize() > 1) {
            on = device.forWorker(on, world);
            try (ProcessGroup group = workers.join(world, on, spec)) {
                return group.rank() == 0 ? written(err, config, precision, on, pairs, loraConfig, group)
                        : train(err, config, precision, on, pairs, loraConfig, group, null);
            }
        }
        return written(err, config, precision, on, pairs, loraConfig, null);
    }

    /** Rank 0, or the only process: the output folder is this process's, locked while it trains. */
    private int written(PrintWriter err, DpoConfig config, Precision precision, ComputeDevice on,
            List<PreferencePair> pairs, LoraConfig loraConfig, ProcessGroup group) throws Exception {
        RunFolder run;
        try {
            org.driftml.data.MinedFolder.requireNotMined(output);
            RunFolder.Claim claim = RunFolder.at(output).by("drift dpo").apartFrom(model, "model folder (--model)")
                    .apartFrom(pairsFile, "pairs file (--pairs)");
            if (adapter != null) {
                claim.apartFrom(adapter, "adapter folder (--adapter)");
            }
            run = claim.onStaleLock(m -> err.println("drift dpo: " + m)).claim();
        } catch (IllegalArgumentException e) {
            err.println("drift dpo: --output: " + e.getMessage());
            return 2;
        } catch (OutputLock.HeldException e) {
            err.println("drift dpo: " + e.getMessage());
            return 2;
        }
        try (run) {
            return train(err, config, precision, on, pairs, loraConfig, group, run);
        }
    }

    /** What makes the output folder this run: the model, the pairs' bytes, every setting that changes the result. */
    private Map<String, Object> identity(DpoConfig config, Precision precision) throws IOException {
        Map<String, Object> settings = new LinkedHashMap<>(config.settings());
        settings.put("max_steps", maxSteps == Integer.MAX_VALUE ? "all epochs" : maxSteps);
        settings.put("truncation_mode", truncationMode);
        settings.put("max_prompt_length", maxPromptLength);
        settings.put("max_length", maxLength);
        settings.put("dtype", precision.name());
        settings.put("seed", seed);
        if (lora.config() != null) {
            settings.put("lora", lora.config().settings());
        }
        if (adapter != null) {
            settings.put("adapter", adapter.toAbsolutePath().normalize().toString());
        }
        Map<String, Object> id = new LinkedHashMap<>();
        id.put("command", "dpo");
        id.put("model", model.toAbsolutePath().normalize().toString());
        id.put("pairs_sha256", HexFormat.of().formatHex(sha256(pairsFile)));
        id.put("settings", settings);
        return id;
    }

    private static byte[] sha256(Path file) throws IOException {
        try (var in = Files.newInputStream(file)) {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0;) {
                d.update(buf, 0, n);
            }
            return d.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Option values DpoConfig does not hold. */
    private void checkLimits() {
        if (maxSteps < 1) {
            throw new IllegalArgumentException("--max-steps must be at least 1, got " + maxSteps);
        }
        if (saveTotalLimit < 0) {
            throw new IllegalArgumentException("--save-total-limit must be 0 (keep all) or more, got "
                    + saveTotalLimit);
        }
        if (saveSteps < 0) {
            throw new IllegalArgumentException("--save-steps must be 0 (at the end only) or more, got " + saveSteps);
        }
        if (!truncationMode.equals("paper") && !truncationMode.equals("keep_start")) {
            throw new IllegalArgumentException("--truncation-mode must be paper or keep_start, got " + truncationMode);
        }
        if (maxPromptLength < 1 || maxLength <= maxPromptLength) {
            throw new IllegalArgumentException("--max-length (" + maxLength + ") must exceed --max-prompt-length ("
                    + maxPromptLength + "), which must be at least 1");
        }
    }

    /** Checks that --output may take this run (checkpoints only with --resume, of this run) and records it. */
    private boolean claimOutput(PrintWriter err, RunFolder run, DpoConfig config, Precision precision)
            throws IOException {
        boolean hasCheckpoints;
        try (var entries = Files.list(output)) {
            hasCheckpoints = entries.anyMatch(p -> p.getFileName().toString().startsWith("checkpoint-"));
        }
        if (hasCheckpoints && !resume) {
            err.println("drift dpo: " + output + " already holds checkpoints: pass --resume to continue, or choose"
                    + " another --output");
            return false;
        }
        if (hasCheckpoints && !RunRecord.exists(output)) {
            err.println("drift dpo: " + output + " holds checkpoints but no " + RunRecord.FILE + " saying which run "
                    + "made them (a run before 2026-11-30); choose another --output");
            return false;
        }
        try {
            run.record(identity(config, precision), "command");
        } catch (OutputConflictException e) {
            err.println("drift dpo: " + e.getMessage());
            return false;
        }
        return true;
    }

    /**
     * Trains; with {@code run} (rank 0 or the only process: the claimed --output) checkpoints, metrics and the model
     * go to --output, without (null: the other ranks) nothing is written.
     */
    private int train(PrintWriter err, DpoConfig config, Precision precision, ComputeDevice on,
            List<PreferencePair> pairs, LoraConfig loraConfig, ProcessGroup group, RunFolder run) throws Exception {
        boolean writes = run != null;
        if (writes && !claimOutput(err, run, config, precision)) {
            return 2;
        }
        try (StepScope scope = StepScope.open(); Policy policy = Policy.load(model, precision, on)) {
            if (loraConfig != null) {
                policy.addAdapters(loraConfig, seed);
            } else if (adapter != null) {
                try {
                    policy.loadAdapters(adapter);
                } catch (IllegalArgumentException e) {
                    err.println("drift dpo: --adapter: " + e.getMessage());
                    return 2;
                }
            }
            PairTokenizer pt = truncationMode.equals("keep_start")
                    ? PairTokenizer.keepStart(policy.tokenizer(), policy.template(), policy.endIds(), maxLength)
                    : PairTokenizer.of(policy, maxPromptLength, maxLength);
            List<PairTokenizer.TokenizedPair> tokenized = pt.tokenize(pairs);
            if (tokenized.isEmpty()) {
                err.println("drift dpo: every pair's prompt fills --max-length " + maxLength + " (keep_start drops "
                        + "them); nothing to train on");
                return 2;
            }
            PreferenceTraining training = PreferenceTraining.of(policy, config, tokenized)
                    .reference(PreferenceTraining.Reference.frozenCopy(precomputeReference)).seed(seed)
                    .across(group, workers.zeroStage(group)).into(output, saveSteps).keepCheckpoints(saveTotalLimit)
                    .maxSteps(maxSteps).mergedInto(merge ? output.resolve("merged") : null)
                    .progress("dpo", System.console() != null ? Progress.terminal(System.err)
                            : Progress.printing(System.err))
                    .hooks(new PreferenceTraining.Hooks() {
                        @Override
                        public void starting(int total, ReferencePolicy reference) {
                            if (writes) {
                                err.printf("drift dpo: %d pairs (%d truncated, %d dropped), %d steps, %s%n",
                                        pairs.size(), pt.truncatedCount(), pt.droppedCount(), total, config);
                                err.flush();
                            }
                        }
                    });
            // Rank 0 writes; another rank takes its share of every step, resumed as rank 0 resumes, and under ZeRO
            // writes its shard of each checkpoint and of the final masters.
            List<StepMetrics> steps = training.run();
            if (!writes) {
                return 0;
            }
            StepMetrics last = steps.get(steps.size() - 1);
            spec.commandLine().getOut().printf("trained %d steps: loss %.4f -> %.4f, margin %.4f; %s in %s%n",
                    steps.size(), steps.get(0).loss(), last.loss(), last.margin(),
                    policy.adapters().isPresent() ? "adapters (PEFT)" : "model", output);
            spec.commandLine().getOut().flush();
            return 0;
        }
    }
}
