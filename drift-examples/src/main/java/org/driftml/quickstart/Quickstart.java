package org.driftml.quickstart;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.driftml.output.Progress;
import org.driftml.data.DsatMiner;
import org.driftml.data.ServedLogs;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.serve.ChatServer;
import org.driftml.data.MinedFolder;
import org.driftml.data.OnBadRecord;
import org.driftml.data.WildFeedbackAnnotations;
import org.driftml.drift.DriftConfig;
import org.driftml.drift.DriftTrainer;
import org.driftml.drift.FeedbackPrompt;
import org.driftml.drift.StageSummary;
import org.driftml.model.Policy;
import org.driftml.model.spec.Precision;
import org.driftml.report.TrainingPlots;
import org.driftml.train.DpoConfig;
import org.driftml.train.SftTrainer;

/**
 * The simulated deployment end to end: a fresh small Qwen2 is fine-tuned on imperfect demonstrations (the base
 * policy), deployed to simulated users whose logs come out in WildFeedback's format, mined with the real reader and
 * miner, warm-started on the DSAT-to-SAT seeds, then trained for K iterations each of DRIFT, SPIN and IterDPO from
 * the same warm start, for several seeds. Every stage is scored by the exact gold reward on held-out tasks.
 */
final class Quickstart {
    /** What the run does; {@link #DEFAULT} is {@code drift quickstart}, {@link #SMALL} its integration test. */
    record Settings(WorldModel.Size size, int sftDemos, int sftEpochs, double sftLearningRate, int conversations,
            int evalTasks, List<Long> seeds, int iterations, double dpoLearningRate, int dpoBatch, int maxNewTokens,
            long worldSeed) {
        static final Settings DEFAULT = new Settings(WorldModel.Size.DEFAULT, 3000, 6, 3e-3, 600, 500,
                List.of(1L, 2L, 3L), 2, 2e-5, 8, 8, 0);
        static final Settings SMALL = new Settings(WorldModel.Size.DEFAULT, 2000, 5, 3e-3, 400, 300, List.of(1L), 2,
                2e-5, 8, 8, 0);
    }

    static final List<DriftConfig.Method> METHODS = List.of(DriftConfig.Method.DRIFT, DriftConfig.Method.SPIN,
            DriftConfig.Method.ITERDPO);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Settings settings;
    private final Path out;
    private final PrintStream progress;
    private final long started = System.nanoTime();
    private final boolean served;

    Quickstart(Settings settings, Path out, PrintStream progress) {
        this(settings, out, progress, false);
    }

    /** @param served deploy through drift serve's HTTP API and mine its log ({@code drift quickstart --served}) */
    Quickstart(Settings settings, Path out, PrintStream progress, boolean served) {
        this.settings = settings;
        this.out = out;
        this.progress = progress;
        this.served = served;
    }

    /** Runs (or resumes) everything and returns the results (also results.json, results.md, gold-reward.png). */
    Map<String, Object> run() throws IOException {
        Files.createDirectories(out);
        Path base = baseModel();
        DsatMiner.Mined mined = served ? deployServed(base)
                : DsatMiner.mine(WildFeedbackAnnotations.read(deploy(base), OnBadRecord.FAIL).conversations());
        MinedFolder.write(out.resolve("mined"), mined);
        say("mined %d conversations: %d DSAT and %d SAT turns (%.1f:1), %d DSAT items, %d seed pairs, %d satisfying "
                        + "replies", mined.counts().get("conversations"), mined.counts().get("DSAT"),
                mined.counts().get("SAT"), mined.counts().get("DSAT") / Math.max(1.0, mined.counts().get("SAT")),
                mined.items().size(), mined.seeds().size(), mined.satisfying().size());

        GoldEvaluation eval = new GoldEvaluation(settings.evalTasks(), settings.worldSeed() + 7_777);
        double baseReward = gold(eval, base);
        say("base policy: gold reward %.3f", baseReward);
        Map<String, List<Double>> gold = new LinkedHashMap<>();  // "method/stage" -> one value per seed
        Map<String, List<StageSummary>> summaries = new LinkedHashMap<>();
        for (long seed : settings.seeds()) {
            Path seedDir = out.resolve("seed-" + seed);
            Path warm = base;
            if (!mined.seeds().isEmpty()) {
                DriftTrainer.Result w = new DriftTrainer(config(DriftConfig.Method.DRIFT, 0, seed, true))
                        .progress(Progress.printing(progress)).train(base, mined, seedDir.resolve("warm"));
                warm = w.finalModel();
                summaries.computeIfAbsent("warm start", k -> new ArrayList<>()).add(w.stages().get(0));
            }
            double warmReward = gold(eval, warm);
            gold.computeIfAbsent("warm start", k -> new ArrayList<>()).add(warmReward);
            say("seed %d: warm start gold reward %.3f", seed, warmReward);
            for (DriftConfig.Method m : METHODS) {
                String name = m.name().toLowerCase(Locale.ROOT);
                DriftTrainer.Result r = new DriftTrainer(config(m, settings.iterations(), seed, false))
                        .progress(Progress.printing(progress)).train(warm, mined, seedDir.resolve(name));
                for (int k = 1; k <= settings.iterations(); k++) {
                    double g = gold(eval, seedDir.resolve(name).resolve("iteration-" + k));
                    gold.computeIfAbsent(name + "/iteration-" + k, x -> new ArrayList<>()).add(g);
                    summaries.computeIfAbsent(name + "/iteration-" + k, x -> new ArrayList<>())
                            .add(r.stages().get(k - 1));
                    say("seed %d: %s iteration %d gold reward %.3f", seed, name, k, g);
                }
            }
        }
        long first = settings.seeds().get(0);
        say("exploration (Sec. 4.3): %d replies to each of %d held-out tasks from each method's iteration %d, seed %d",
                ExplorationStudy.SAMPLES, ExplorationStudy.PROMPTS, settings.iterations(), first);
        List<ExplorationStudy.Row> coverage = settings.iterations() < 1 ? List.of() : ExplorationStudy.run(base,
                out.resolve("seed-" + first), settings.iterations(), settings.maxNewTokens(), first,
                out.resolve("coverage"), Progress.printing(progress));
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("settings", settings.toString());
        results.put("counts", mined.counts());
        results.put("base", baseReward);
        results.put("gold", gold);
        Map<String, Map<String, List<Double>>> diagnostics = diagnostics(summaries);
        results.put("diagnostics", diagnostics);
        results.put("coverage", coverage);
        results.put("minutes", (System.nanoTime() - started) / 6e10);
        Path tmp = out.resolve("results.json.tmp");
        JSON.writeValue(tmp.toFile(), results);
        Files.move(tmp, out.resolve("results.json"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(out.resolve("results.md"), table(baseReward, gold, diagnostics, mined.counts())
                + coverageTable(coverage));
        plot(baseReward, gold);
        return results;
    }

    DriftConfig config(DriftConfig.Method method, int iterations, long seed, boolean warmStart) {
        DpoConfig warm = DpoConfig.warmStart().withLearningRate(settings.dpoLearningRate())
                .withBatch(settings.dpoBatch(), 1);
        DpoConfig iteration = DpoConfig.iteration().withLearningRate(settings.dpoLearningRate())
                .withBatch(settings.dpoBatch(), 1);
        // The small model learned chat, not the released plain transcript: positives are sampled in chat form. Every
        // stage trains against the base policy (the quickstart's figures were made so; the paper's recipe uses the
        // checkpoint each stage starts from).
        return DriftConfig.paper().withMethod(method).withIterations(iterations)
                .with(DriftConfig.REFERENCE, DriftConfig.Reference.BASE)
                .withSampling(FeedbackPrompt.Style.CHAT, 0.7, 0.9, settings.maxNewTokens(), 64)
                .withLengths(256, 256 + settings.maxNewTokens() + 2).withDpo(warmStart ? warm : null, iteration)
                .withRun(Precision.FP32, 0, 1000, seed);
    }

    Path baseModel() throws IOException {
        Path base = out.resolve("base");
        if (Files.exists(base.resolve("sft.json"))) {
            say("base policy: reusing %s", base);
            return base;
        }
        Path init = WorldModel.write(out.resolve("base-init"), settings.size(), settings.worldSeed());
        try (Policy policy = Policy.load(init, Precision.FP32)) {
            List<SftTrainer.Example> demos = Demonstrations.build(policy, settings.sftDemos(),
                    new Random(settings.worldSeed() + 1));
            say("supervised fine-tuning on %d imperfect demonstrations", demos.size());
            List<Map<String, Double>> steps;
            try (SftTrainer sft = new SftTrainer(policy, settings.sftLearningRate(), 32,
                    settings.sftEpochs(), settings.worldSeed())) {
                steps = sft.train(demos, Progress.printing(progress));
            }
            policy.save(base);  // fp32: the trained weights are their own masters
            TrainingPlots.lines(steps, List.of("loss"), null, "SFT loss", base.resolve("sft-loss.png"));
            JSON.writeValue(base.resolve("sft.json").toFile(), Map.of("demonstrations", demos.size(), "steps",
                    steps.size(), "loss_last", steps.get(steps.size() - 1).get("loss")));
        }
        return base;
    }

    private Path deploy(Path base) throws IOException {
        Path logs = out.resolve("logs").resolve("wildfeedback.jsonl");
        if (Files.exists(logs)) {
            return logs;
        }
        try (Policy policy = Policy.load(base, Precision.FP32)) {
            say("deployment: %d conversations with simulated users", settings.conversations());
            long t = System.nanoTime();
            Deployment.write(Deployment.run(policy, settings.conversations(), settings.maxNewTokens(),
                    settings.worldSeed() + 2), logs);
            say("deployment: done in %.0f s", (System.nanoTime() - t) / 1e9);
        }
        return logs;
    }

    /**
     * The deployment through drift serve: the base policy behind the chat API with a conversation log, the simulated
     * users talking to it 16 at a time (and rating some replies), then the log mined as {@code drift mine --logs}
     * mines it. A deployment cut short is run again from the start (every conversation is seeded).
     */
    private DsatMiner.Mined deployServed(Path base) throws IOException {
        Path log = out.resolve("served-log"), done = out.resolve("served-deployment.json");
        if (!Files.exists(done)) {
            if (Files.exists(log)) {
                try (var tree = Files.walk(log)) {
                    for (Path p : tree.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        Files.delete(p);
                    }
                }
            }
            say("deployment: %d conversations with simulated users through drift serve (log: %s)",
                    settings.conversations(), log);
            long t = System.nanoTime();
            ServedDeployment.Counts counts;
            try (ChatServer server = ChatServer.listen(new ChatServer.Options("127.0.0.1", 0, null, 1 << 20, 64,
                    java.time.Duration.ofSeconds(600)), 64)) {
                server.keepLog(log, 64L << 20);
                server.load("quickstart", base, null, null, new ChatServer.Loading(Precision.FP32, ComputeDevice.CPU,
                        32, 1024, 256));
                counts = new ServedDeployment("http://127.0.0.1:" + server.port(), "quickstart",
                        settings.maxNewTokens(), 0.3).run(settings.conversations(), 16, settings.worldSeed() + 2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("the served deployment was interrupted");
            }
            double seconds = (System.nanoTime() - t) / 1e9;
            say("deployment: %d requests, %d complaints, %d thanks, %d thumbs down, %d up in %.0f s", counts.requests(),
                    counts.complaints(), counts.thanks(), counts.thumbsDown(), counts.thumbsUp(), seconds);
            Map<String, Object> record = new LinkedHashMap<>();
            record.put("counts", counts);
            record.put("seconds", seconds);
            org.driftml.output.OutputFolder.writeAtomically(done, JSON.writeValueAsString(record));
        }
        var mining = ServedLogs.mine(log, OnBadRecord.FAIL, 0, null);
        Map<String, Integer> c = mining.mined().counts();
        say("the served log: %d DSAT turns from explicit feedback, %d from the detector; %d SAT explicit, %d detector",
                c.get("DSAT turns (explicit)"), c.get("DSAT turns (detector)"), c.get("SAT turns (explicit)"),
                c.get("SAT turns (detector)"));
        return mining.mined();
    }

    private double gold(GoldEvaluation eval, Path model) throws IOException {
        try (Policy policy = Policy.load(model, Precision.FP32)) {
            return eval.meanReward(policy, settings.maxNewTokens());
        }
    }

    /** Per stage, over seeds: the mean margin s after training and the shares at tau 0.1 and 0.5. */
    private static Map<String, Map<String, List<Double>>> diagnostics(
            Map<String, List<StageSummary>> summaries) {
        Map<String, Map<String, List<Double>>> out = new LinkedHashMap<>();
        summaries.forEach((stage, list) -> {
            Map<String, List<Double>> d = new LinkedHashMap<>();
            for (StageSummary s : list) {
                Map<String, Double> share = s.marginsEnd().shareSigmaNegSAtLeastTau();
                d.computeIfAbsent("margin_mean", k -> new ArrayList<>()).add(s.marginsEnd().mean());
                d.computeIfAbsent("share_sigma_neg_s_ge_0.1", k -> new ArrayList<>()).add(share.get("0.1"));
                d.computeIfAbsent("share_sigma_neg_s_ge_0.5", k -> new ArrayList<>()).add(share.get("0.5"));
            }
            out.put(stage, d);
        });
        return out;
    }

    static double mean(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    static double std(List<Double> v) {
        double m = mean(v);
        return v.size() < 2 ? 0 : Math.sqrt(v.stream().mapToDouble(x -> (x - m) * (x - m)).sum() / (v.size() - 1));
    }

    /** Results as a Markdown table: gold reward (mean ± sample std over seeds) and the margin diagnostics. */
    String table(double base, Map<String, List<Double>> gold, Map<String, Map<String, List<Double>>> diagnostics,
            Map<String, Integer> counts) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "Logs: %d conversations, %d DSAT and %d SAT user turns (%.1f:1), %d DSAT items,"
                        + " %d DSAT-to-SAT seed pairs.%n%n", counts.get("conversations"), counts.get("DSAT"),
                counts.get("SAT"), counts.get("DSAT") / Math.max(1.0, counts.get("SAT")), counts.get("DSAT items"),
                counts.get("seed pairs")));
        s.append(String.format(Locale.ROOT, "Gold reward r* on %d held-out tasks (mean ± std over %d seeds; base %.3f)%n%n",
                settings.evalTasks(), settings.seeds().size(), base));
        s.append("| method | base | warm start |");
        for (int k = 1; k <= settings.iterations(); k++) {
            s.append(" iteration ").append(k).append(" |");
        }
        s.append("\n|---|---|---|").append("---|".repeat(settings.iterations())).append('\n');
        List<Double> warm = gold.getOrDefault("warm start", List.of(base));
        for (DriftConfig.Method m : METHODS) {
            String name = m.name().toLowerCase(Locale.ROOT);
            s.append(String.format(Locale.ROOT, "| %s | %.3f | %s |", m == DriftConfig.Method.ITERDPO ? "IterDPO"
                    : m == DriftConfig.Method.SPIN ? "SPIN" : "DRIFT", base, cell(warm)));
            for (int k = 1; k <= settings.iterations(); k++) {
                s.append(' ').append(cell(gold.get(name + "/iteration-" + k))).append(" |");
            }
            s.append('\n');
        }
        s.append("\nImplicit reward margin s after each stage's training (mean over pairs, then over seeds), and the share"
                + " of pairs with σ(−s) ≥ τ (Lemma 1's event; τ = 0.5 means s ≤ 0, a pair the policy does not yet"
                + " prefer):\n\n| stage | margin s | share τ = 0.1 | share τ = 0.5 |\n|---|---|---|---|\n");
        diagnostics.forEach((stage, m) -> s.append(String.format(Locale.ROOT, "| %s | %.3f | %.3f | %.3f |%n", stage,
                mean(m.get("margin_mean")), mean(m.get("share_sigma_neg_s_ge_0.1")),
                mean(m.get("share_sigma_neg_s_ge_0.5")))));
        return s.toString();
    }

    /** The exploration study's shares (Sec. 4.3), with the samples' mean gold reward and distinct replies. */
    String coverageTable(List<ExplorationStudy.Row> rows) {
        if (rows.isEmpty()) {
            return "";
        }
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "%nExploration (Sec. 4.3): %d replies to each"
                + " of %d held-out tasks from each method's iteration %d (seed %d), temperature 0.7, top-p 0.9; Share(m)"
                + " is the part of the high-reward region H (top 20%% of the gold-reward-weighted density over the UMAP"
                + " plane, bounded by z_high, its 0.8-quantile) where the method's own density, scaled to [0, 1], reaches"
                + " the same z_high, averaged over tasks:%n%n",
                ExplorationStudy.SAMPLES, ExplorationStudy.PROMPTS, settings.iterations(), settings.seeds().get(0)));
        s.append("| method | share of H | mean gold reward of its samples | distinct replies per task |\n");
        s.append("|---|---|---|---|\n");
        for (ExplorationStudy.Row r : rows) {
            s.append(String.format(Locale.ROOT, "| %s | %.3f | %.3f | %.1f |%n", r.method(), r.share(), r.meanReward(),
                    r.distinct()));
        }
        return s.toString();
    }

    private static String cell(List<Double> v) {
        return v == null ? "-" : String.format(Locale.ROOT, "%.3f ± %.3f", mean(v), std(v));
    }

    private void plot(double base, Map<String, List<Double>> gold) throws IOException {
        List<Map<String, Double>> points = new ArrayList<>();
        List<String> labels = new ArrayList<>(List.of("base", "warm start"));
        List<Double> warm = gold.getOrDefault("warm start", List.of(base));
        for (int k = 0; k <= settings.iterations() + 1; k++) {
            Map<String, Double> p = new LinkedHashMap<>();
            for (DriftConfig.Method m : METHODS) {
                String name = m.name().toLowerCase(Locale.ROOT);
                List<Double> v = k == 0 ? List.of(base) : k == 1 ? warm : gold.get(name + "/iteration-" + (k - 1));
                p.put(name, mean(v));
                p.put(name + " min", v.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN));
                p.put(name + " max", v.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN));
            }
            points.add(p);
            if (k >= 2) {
                labels.add("iteration " + (k - 1));
            }
        }
        TrainingPlots.lines(points, List.of("drift", "spin", "iterdpo"), labels,
                "gold reward r* per stage (mean, bars: min-max over seeds)", out.resolve("gold-reward.png"));
    }

    private void say(String format, Object... args) {
        progress.printf("[%5.1f min] %s%n", (System.nanoTime() - started) / 6e10, String.format(Locale.ROOT, format, args));
        progress.flush();
    }
}
