package org.driftml.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.driftml.output.Progress;
import org.driftml.data.Conversation;
import org.driftml.labelling.DissatisfactionDetector;
import org.driftml.labelling.DissatisfactionJudge;
import org.driftml.data.DsatMiner;
import org.driftml.data.LogFormat;
import org.driftml.data.MinedFolder;
import org.driftml.data.OnBadRecord;
import org.driftml.data.ReadReport;
import org.driftml.data.ReleaseFiles;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.Policy;
import org.driftml.model.spec.Precision;
import org.driftml.output.RunFolder;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code drift mine}: chat logs in, DSAT items and seed pairs out. */
@Command(name = "mine", mixinStandardHelpOptions = true,
        description = {"Find the dissatisfaction in chat logs (.jsonl, .json, .parquet, or a folder of them).",
                "Formats:",
                "  wildfeedback              WildFeedback sat_dsat_annotation rows (UtterranceId, Role, Content,",
                "                            Satisfaction, Disatisfaction), grouped into conversations",
                "  dsat                      DRIFT's released records {prompt, rejected, user_preference}",
                "  wildfeedback-preferences  {conversations, chosen, rejected}: pairs, used as seed pairs",
                "  ultrafeedback             openbmb's raw records or ultrafeedback_binarized: prompts with both",
                "                            replies, for drift train --setting ultrafeedback (Table 3)",
                "  release                   the DRIFT release's files: --dsat dsat_data.jsonl [--sat",
                "                            sat_data.jsonl] [--seeds seed-data/train.jsonl], or --logs data/",
                "  served                    drift serve --log-dir's folder (found by itself): each user turn",
                "                            labelled by the user's explicit feedback first, else by the detector",
                "--seeds adds seed pairs in TRL's preference format to any of them (the warm start's data).",
                "Each DSAT user turn gives an item: the conversation before the reply the user disliked (x), that",
                "reply (rejected) and the user's turn (feedback). A DSAT turn followed by a revision the user then",
                "marks SAT gives a seed pair for the warm start. Writes dsat.jsonl, seeds.jsonl, satisfying.jsonl",
                "and counts.json to --output, and prints the counts."})
final class MineCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--logs", paramLabel = "PATH", description = "Log file or folder (--format release: the data/ folder)")
    Path logs;

    @Option(names = "--format", defaultValue = "wildfeedback", paramLabel = "FORMAT",
            description = {"wildfeedback (default; a drift serve log folder is read as served), dsat,",
                    "wildfeedback-preferences, ultrafeedback, release or served"})
    String format;

    @Option(names = "--min-rule-precision", defaultValue = "0", paramLabel = "P",
            description = {"--format served: keep a detector label only when a rule behind it is at least P precise",
                    "(as measured on drift's labelled dialogs, or on --rule-precision-from); explicit feedback",
                    "always counts (default: ${DEFAULT-VALUE}, every label)"})
    double minRulePrecision;

    @Option(names = "--rule-precision-from", paramLabel = "FILE", description = {"Your own labelled sample "
            + "(WildFeedback rows with Satisfaction and Disatisfaction): each rule's precision measured on it",
            "decides --min-rule-precision instead of drift's measurement"})
    Path rulePrecisionFrom;

    @Option(names = "--dsat", paramLabel = "FILE", description = "--format release: the DSAT records (dsat_data.jsonl)")
    Path dsat;

    @Option(names = "--sat", paramLabel = "FILE",
            description = "--format release: the satisfying replies SPIN trains towards (sat_data.jsonl)")
    Path sat;

    @Option(names = "--seeds", paramLabel = "FILE", description = {"Seed pairs for the warm start, in TRL's "
            + "preference format (prompt, chosen, rejected; conversational or text), or the Alignment Handbook's;",
            "repeatable (the release's seed-data/train.jsonl)"})
    List<Path> seeds = new java.util.ArrayList<>();

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Where the mined files go")
    Path output;

    @Option(names = "--on-bad-record", defaultValue = "fail", paramLabel = "fail|skip",
            description = {"fail: stop at the first bad record, naming file, line or row, and field (default);",
                    "skip: leave bad records out and count them"})
    String onBadRecord;

    @Option(names = "--detect", arity = "0..1", fallbackValue = "rules", paramLabel = "rules|judge|rules+judge",
            description = {"Label user turns instead of using the logs' labels (for unlabelled wildfeedback-format",
                    "logs): rules (the default when given alone) with the rule detector, judge by asking the chat",
                    "model --judge-model, rules+judge with the rules and the judge where they are silent"})
    String detect;

    @Option(names = "--judge-model", paramLabel = "DIR", description = "The chat model that judges (--detect judge)")
    Path judgeModel;

    @Option(names = "--judge-batch", defaultValue = "8", paramLabel = "N",
            description = "Turns judged in one batched generation (default: ${DEFAULT-VALUE})")
    int judgeBatch;

    @Option(names = "--dtype", defaultValue = "float32", paramLabel = "float32|bfloat16",
            description = "The judge's compute precision (default: ${DEFAULT-VALUE})")
    String dtype;

    @Mixin
    DeviceOption device = new DeviceOption();

    @Option(names = "--evaluate-detector", description = {"Compare the detector (the rules, or with --detect judge",
            "or rules+judge those labels) with the logs' own labels and print its precision and recall, overall",
            "and per rule, and the turns it got wrong"})
    boolean evaluate;

    @Option(names = "--config", paramLabel = "FILE", description = "JSON or YAML settings (keys: these option names)")
    Path configFile;

    /**
     * Labels the logs with the judge model (and the rules first under rules+judge), holding the output folder, where
     * the verdicts are cached so that an interrupted run resumes.
     */
    private List<Conversation> judge(List<Conversation> conversations, Precision precision, ComputeDevice on,
            PrintWriter err) throws IOException {
        try (RunFolder run = RunFolder.at(output).by("drift mine").claim();
                Policy model = Policy.load(judgeModel, precision, on)) {
            DissatisfactionJudge judge = new DissatisfactionJudge(model, judgeBatch, 64);
            boolean rulesFirst = detect.equalsIgnoreCase("rules+judge");
            DissatisfactionJudge.Outcome outcome = judge.label(conversations,
                    rulesFirst ? DissatisfactionDetector.defaults() : null,
                    output.resolve(DissatisfactionJudge.CACHE_FILE), Progress.printing(System.err));
            err.println("drift mine: " + outcome);
            outcome.unparsedExamples().forEach(x -> err.println("  unparsed verdict for " + x));
            err.flush();
            return outcome.labelled();
        }
    }

    /** Each rule's precision on the user's labelled sample (its table printed), by rule name. */
    private static java.util.Map<String, Double> rulePrecisions(Path sample, OnBadRecord policy, PrintWriter out)
            throws IOException {
        DissatisfactionDetector.Evaluation e = DissatisfactionDetector.defaults().evaluate(
                org.driftml.data.WildFeedbackAnnotations.read(sample, policy).conversations());
        out.println("the rules on " + sample + ": " + e);
        java.util.Map<String, Double> precisions = new java.util.HashMap<>();
        e.perRule().forEach((rule, c) -> precisions.put(rule, (double) c[1] / c[0]));
        return precisions;
    }

    /** {@code mined} with {@code more} seed pairs after its own, counted. */
    private static DsatMiner.Mined withSeeds(DsatMiner.Mined mined, List<org.driftml.data.PreferencePair> more) {
        List<org.driftml.data.PreferencePair> all = new java.util.ArrayList<>(mined.seeds());
        all.addAll(more);
        java.util.Map<String, Integer> counts = new java.util.LinkedHashMap<>(mined.counts());
        counts.put("seed pairs", all.size());
        return new DsatMiner.Mined(mined.items(), all, mined.satisfying(), mined.preferences(), counts);
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr(), out = spec.commandLine().getOut();
        try {
            if (configFile != null) {
                ConfigFile.apply(spec, configFile);
            }
            OnBadRecord policy = switch (onBadRecord.toLowerCase(Locale.ROOT)) {
                case "fail" -> OnBadRecord.FAIL;
                case "skip" -> OnBadRecord.SKIP;
                default -> throw new IllegalArgumentException("--on-bad-record must be fail or skip, got " + onBadRecord);
            };
            LogFormat logFormat = LogFormat.FORMAT.parse(format);
            if (logFormat == LogFormat.WILDFEEDBACK && logs != null && org.driftml.data.ConversationLog.isLog(logs)) {
                logFormat = LogFormat.SERVED;  // drift serve's folder says what it is
            }
            if (minRulePrecision < 0 || minRulePrecision > 1 || Double.isNaN(minRulePrecision)) {
                throw new IllegalArgumentException("--min-rule-precision must be in [0, 1], got " + minRulePrecision);
            }
            if ((minRulePrecision > 0 || rulePrecisionFrom != null) && logFormat != LogFormat.SERVED) {
                throw new IllegalArgumentException("--min-rule-precision and --rule-precision-from apply to drift "
                        + "serve's logs (--format served)");
            }
            if (rulePrecisionFrom != null && !java.nio.file.Files.isRegularFile(rulePrecisionFrom)) {
                throw new IllegalArgumentException("--rule-precision-from: " + rulePrecisionFrom + ": no such file");
            }
            if (logFormat != LogFormat.RELEASE && (dsat != null || sat != null)) {
                throw new IllegalArgumentException("--dsat and --sat are the release's files: give --format release");
            }
            if (logFormat == LogFormat.RELEASE && logs != null && dsat != null) {
                throw new IllegalArgumentException("--format release reads --logs data/ or --dsat FILE, not both");
            }
            if (sat != null && dsat == null) {
                throw new IllegalArgumentException("--sat needs --dsat (the release's DSAT records)");
            }
            if (logs == null && dsat == null) {
                throw new IllegalArgumentException("--logs is required (or, with --format release, --dsat)");
            }
            for (Path f : java.util.Arrays.asList(logs, dsat, sat)) {
                if (f != null && !java.nio.file.Files.exists(f)) {
                    throw new IllegalArgumentException((f == logs ? "--logs: " : f == dsat ? "--dsat: " : "--sat: ")
                            + f + ": no such file or folder");
                }
            }
            for (Path f : seeds) {
                if (!java.nio.file.Files.isRegularFile(f)) {
                    throw new IllegalArgumentException("--seeds: " + f + ": no such file");
                }
            }
            if ((detect != null || evaluate) && logFormat != LogFormat.WILDFEEDBACK) {
                throw new IllegalArgumentException("--detect and --evaluate-detector need --format wildfeedback");
            }
            boolean judged = detect != null && detect.toLowerCase(Locale.ROOT).contains("judge");
            if (detect != null && !List.of("rules", "judge", "rules+judge").contains(detect.toLowerCase(Locale.ROOT))) {
                throw new IllegalArgumentException("--detect must be rules, judge or rules+judge, got " + detect);
            }
            if (judged && judgeModel == null) {
                throw new IllegalArgumentException("--detect " + detect + " needs --judge-model DIR, a chat model");
            }
            if (judged && !java.nio.file.Files.isRegularFile(judgeModel.resolve("config.json"))) {
                throw new IllegalArgumentException("--judge-model: " + judgeModel + " has no config.json");
            }
            if (judgeBatch < 1) {
                throw new IllegalArgumentException("--judge-batch must be at least 1, got " + judgeBatch);
            }
            // The mined folder is written apart from everything mining reads (mined into its own --logs folder, a second
            // run read the first one's counts.json as a log; into --judge-model, it wrote into the model).
            java.util.Map<Path, String> inputs = new java.util.LinkedHashMap<>();
            inputs.put(logs, "--logs");
            inputs.put(dsat, "--dsat file");
            inputs.put(sat, "--sat file");
            inputs.put(judged ? judgeModel : null, "--judge-model folder");
            inputs.put(rulePrecisionFrom, "--rule-precision-from file");
            seeds.forEach(f -> inputs.put(f, "--seeds file"));
            for (var input : inputs.entrySet()) {
                if (input.getKey() != null) {
                    org.driftml.output.OutputFolder.requireApart(output, input.getKey(), input.getValue());
                }
            }
            Precision precision = Precision.DTYPE.parse(dtype);
            ComputeDevice on = judged ? device.resolve() : null;
            // The logs' own labels, or the detector's or the judge's (compared with the logs' when asked).
            java.util.Map<String, Double> measured = rulePrecisionFrom == null ? null : rulePrecisions(rulePrecisionFrom,
                    policy, out);
            LogFormat.Mining mining = dsat != null ? ReleaseFiles.read(dsat, sat, seeds, policy)
                    : logFormat == LogFormat.SERVED ? org.driftml.data.ServedLogs.mine(logs, policy, minRulePrecision,
                            measured)
                    : logFormat.mine(logs, policy, gold -> {
                try {
                    List<Conversation> labelled = judged ? judge(gold, precision, on, err)
                            : detect != null ? DissatisfactionDetector.defaults().label(gold) : gold;
                    if (evaluate) {  // the rules, or with --detect judge|rules+judge what labelled the turns
                        out.println("detector vs the logs' labels: " + (judged
                                ? DissatisfactionDetector.compare(gold, labelled, detect.toLowerCase(Locale.ROOT))
                                : DissatisfactionDetector.defaults().evaluate(gold)));
                    }
                    return labelled;
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            DsatMiner.Mined mined = mining.mined();
            ReadReport report = mining.report();
            if (report.records() == 0 && mined.seeds().isEmpty() && seeds.isEmpty()) {  // nothing to train on
                throw new IllegalArgumentException((logs != null ? "--logs " + logs : "--dsat " + dsat)
                        + " holds no records");
            }
            if (dsat == null && !seeds.isEmpty()) {  // the release's --dsat path read them already
                mined = withSeeds(mined, ReleaseFiles.seeds(seeds, policy, report));
            }
            MinedFolder.write(output, mined);
            err.println("drift mine: " + report);
            report.skipReasons().forEach(r -> err.println("  skipped " + r));
            if (report.skipped() > report.skipReasons().size()) {
                err.println("  ... and " + (report.skipped() - report.skipReasons().size()) + " more");
            }
            err.flush();
            out.printf("%-32s %8s%n", "count", "value");
            mined.counts().forEach((k, v) -> out.printf("%-32s %8d%n", k, v));
            out.printf("wrote %s%n", output);
            out.flush();
            return 0;
        } catch (CommandLine.ParameterException | IllegalArgumentException | IllegalStateException e) {
            err.println("drift mine: " + SettingOptions.message(e));
            err.flush();
            return 2;
        } catch (java.io.UncheckedIOException e) {  // the judge's, from inside the mining
            err.println("drift mine: " + e.getCause().getMessage());
            err.flush();
            return 1;
        } catch (IOException e) {
            err.println("drift mine: " + e.getMessage());
            err.flush();
            return 1;
        }
    }
}
