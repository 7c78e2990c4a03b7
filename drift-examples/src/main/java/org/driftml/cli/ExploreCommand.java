package org.driftml.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.driftml.output.Progress;
import org.driftml.data.internal.Sha256;
import org.driftml.model.RewardModel;
import org.driftml.eval.Coverage;
import org.driftml.eval.EvalPrompts;
import org.driftml.eval.Exploration;
import org.driftml.eval.Umap;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.model.Sampler;
import org.driftml.model.TextEmbedder;
import org.driftml.output.OutputConflictException;
import org.driftml.output.RunFolder;
import org.driftml.text.ChatMessage;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code drift explore}: the paper's exploration coverage (Sec. 4.3) of several methods' models. */
@Command(name = "explore", mixinStandardHelpOptions = true,
        description = {"How much of the high-reward region of reply space each method's model reaches (the paper's",
                "Sec. 4.3, Figures 2 and 3). For each prompt, --samples replies are sampled from every --method model",
                "(temperature 0.7, top-p 0.9), embedded (--embedder: mean or last-token pooling, causal or",
                "bidirectional attention; gte-Qwen2 is --pooling last --embedder-attention bidirectional), rewarded",
                "(--reward-model) and projected to 2-D by UMAP; on a grid, Z_all is the reward-weighted Gaussian",
                "kernel density of all replies scaled to [0, 1] and D_m each method's on the same scale; H is where",
                "Z_all is in its top 20%% and Share(m) the part of H where D_m >= --z-high, averaged over prompts.",
                "Writes OUTPUT/coverage.json, coverage.png (the bars), coverage-prompt-I.png (the terrain of each",
                "prompt, or of the first --figures) and the sampled replies (samples-NAME.jsonl); rerun to resume."})
final class ExploreCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--prompts", required = true, paramLabel = "FILE",
            description = "Prompts: JSON or JSON Lines records with instruction, conversation_input or messages")
    Path prompts;

    @Option(names = "--method", required = true, paramLabel = "NAME=DIR",
            description = "A method's model folder, repeated for each method (e.g. drift=out/iteration-2)")
    List<String> methods;

    @Option(names = "--reward-model", required = true, paramLabel = "DIR",
            description = "A sequence-classification reward model folder (num_labels 1)")
    Path rewardModel;

    @Option(names = "--embedder", paramLabel = "DIR",
            description = "The model whose hidden states embed the replies (default: the first method's)")
    Path embedder;

    @Option(names = "--pooling", defaultValue = "mean", paramLabel = "mean|last",
            description = "mean over tokens, or the last token (gte-Qwen2) (default: ${DEFAULT-VALUE})")
    String pooling;

    @Option(names = "--embedder-attention", defaultValue = "causal", paramLabel = "causal|bidirectional",
            description = "How the embedder's tokens attend: causal, or bidirectional for gte-Qwen2 (default: causal)")
    String embedderAttention;

    @Option(names = "--samples", defaultValue = "128", paramLabel = "N",
            description = "Replies per prompt and method (default: ${DEFAULT-VALUE}, the paper's)")
    int samples;

    @Option(names = "--max-prompts", defaultValue = "50", paramLabel = "P",
            description = "Use the first P prompts (default: ${DEFAULT-VALUE}, the paper's)")
    int maxPrompts;

    @Option(names = "--max-new-tokens", defaultValue = "512", paramLabel = "N",
            description = "(default: ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "0.7", paramLabel = "T",
            description = "(default: ${DEFAULT-VALUE})")
    double temperature;

    @Option(names = "--top-p", defaultValue = "0.9", paramLabel = "P", description = "(default: ${DEFAULT-VALUE})")
    double topP;

    @Option(names = "--batch", defaultValue = "16", paramLabel = "N",
            description = "Replies sampled together, and embedded together (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Sampling and UMAP seed (default: 0)")
    long seed;

    @Option(names = "--grid", defaultValue = "100", paramLabel = "G",
            description = "Grid cells per side (default: 100)")
    int grid;

    @Option(names = "--z-high", defaultValue = "0.1", paramLabel = "Z",
            description = "With --coverage fixed-z: how dense on Z_all's scale a method must be to cover a cell "
                    + "(default: ${DEFAULT-VALUE})")
    double zHigh;

    @Option(names = "--coverage", defaultValue = "paper", paramLabel = "paper|fixed-z",
            description = {"paper (default): Sec. 4.3 as written, one z_high (the Q-quantile of Z_all) for H and S_m,",
                    "each D_m scaled by its own maximum; fixed-z (drift's first reading): D_m on Z_all's scale, S_m",
                    "where it reaches --z-high"})
    String coverage;

    @Option(names = "--quantile", defaultValue = "0.8", paramLabel = "Q",
            description = "H is where Z_all reaches its Q-quantile (default: ${DEFAULT-VALUE}: the top 20%%)")
    double quantile;

    @Option(names = "--bandwidth", defaultValue = "0", paramLabel = "H",
            description = "Kernel standard deviation in UMAP units (default: 0, Scott's rule per prompt)")
    double bandwidth;

    @Option(names = "--neighbours", defaultValue = "15", paramLabel = "K",
            description = "UMAP's n_neighbors (default: 15)")
    int neighbours;

    @Option(names = "--metric", defaultValue = "cosine", paramLabel = "cosine|euclidean",
            description = "UMAP's distance between embeddings (default: ${DEFAULT-VALUE})")
    String metric;

    @Option(names = "--figures", paramLabel = "N",
            description = "Terrain figures for the first N prompts only (default: one per prompt)")
    Integer figures;

    @Option(names = "--dtype", defaultValue = "float32", paramLabel = "float32|bfloat16",
            description = "Compute precision of every model (default: ${DEFAULT-VALUE})")
    String dtype;

    @Mixin
    DeviceOption device = new DeviceOption();

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Where the results go")
    Path output;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr(), out = spec.commandLine().getOut();
        List<Exploration.Method> named;
        Exploration.Settings settings;
        List<List<ChatMessage>> conversations;
        TextEmbedder.Pooling pool;
        TextEmbedder.Attention attention;
        Precision precision;
        ComputeDevice on;
        RunFolder.Claim folder;
        try {
            named = methods(methods);
            for (Exploration.Method m : named) {
                modelFolder("--method " + m.name(), m.model());
            }
            Exploration.checkMethods(named);
            modelFolder("--reward-model", rewardModel);
            try {
                RewardModel.check(rewardModel);
            } catch (java.io.IOException | IllegalArgumentException e) {
                throw new IllegalArgumentException("--reward-model: " + e.getMessage());
            }
            Path embedWith = embedder != null ? embedder : named.get(0).model();
            modelFolder("--embedder", embedWith);
            embedder = embedWith;
            pool = TextEmbedder.Pooling.parse(pooling);
            attention = TextEmbedder.Attention.parse(embedderAttention);
            if (!metric.equals("cosine") && !metric.equals("euclidean")) {
                throw new IllegalArgumentException("--metric must be cosine or euclidean, got " + metric);
            }
            if (maxPrompts < 1 || (figures != null && figures < 0)) {
                throw new IllegalArgumentException("--max-prompts must be >= 1 and --figures >= 0");
            }
            precision = Precision.DTYPE.parse(dtype);
            settings = new Exploration.Settings(samples, Sampler.Settings.sampling(temperature, topP, maxNewTokens,
                    java.util.Set.of(), seed), batch, batch, new Umap.Settings(neighbours, 0.1, 1.0, 0, 5,
                    metric.equals("cosine"), seed), new Coverage.Settings(grid, quantile, zHigh, bandwidth, definition()));
            checkSizes(named);
            if ((long) named.size() * samples < 3) {
                throw new IllegalArgumentException("--samples " + samples + " with " + named.size() + " method(s) "
                        + "gives fewer than the 3 replies per prompt UMAP needs");
            }
            List<EvalPrompts.EvalPrompt> read = EvalPrompts.read(prompts);
            conversations = new ArrayList<>();
            read.stream().limit(maxPrompts).forEach(p -> conversations.add(p.messages()));
            on = device.resolve();
            folder = RunFolder.at(output).by("drift explore");
            for (Exploration.Method m : named) {
                folder.apartFrom(m.model(), "model folder of --method " + m.name());
            }
            folder.checkApart();
        } catch (IllegalArgumentException | IllegalStateException e) {
            err.println("drift explore: " + SettingOptions.message(e));
            err.flush();
            return 2;
        }
        try (RunFolder run = folder.identity(identity(named, conversations), null).claim()) {
            Progress progress = Progress.printing(System.err);
            Map<String, List<List<String>>> replies = Exploration.sample(conversations, named, settings, precision, on,
                    output, progress);
            List<Exploration.PromptResult> results;
            try (RewardModel reward = RewardModel.load(rewardModel, precision, on);
                    TextEmbedder embed = TextEmbedder.load(embedder, precision, on, pool, attention,
                            Integer.MAX_VALUE)) {
                progress.line(String.format("scoring, embedding and projecting %d prompts", conversations.size()));
                results = Exploration.analyse(conversations, replies, reward, embed, settings, progress);
            }
            Map<String, Double> mean = Exploration.write(results, settings, output,
                    figures != null ? figures : results.size());
            out.printf("%-16s %s%n", "method", "share of the high-reward region (mean over " + results.size()
                    + " prompts)");
            mean.forEach((m, v) -> out.printf(Locale.ROOT, "%-16s %.3f%n", m, v));
            out.printf("wrote %s%n", output.resolve("coverage.json"));
            out.flush();
            return 0;
        } catch (OutputConflictException e) {
            err.println("drift explore: " + e.getMessage());
            err.flush();
            return 2;
        }
    }

    /**
     * What would fail only after every method was sampled: a reply longer than a model's positions, more replies
     * than a prompt's UMAP can hold, a coverage grid larger than this JVM's heap (100,000 cells a side ended in an
     * OutOfMemoryError after sampling).
     */
    private void checkSizes(List<Exploration.Method> named) {
        if (samples < 1 || samples > MAX_SAMPLES) {
            throw new IllegalArgumentException("--samples must be in [1, " + MAX_SAMPLES + "] per method and prompt, "
                    + "got " + samples);
        }
        for (Exploration.Method m : named) {
            int positions;
            try {
                positions = org.driftml.model.Policy.checkFolder(m.model()).maxPositionEmbeddings();
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("--method " + m.name() + ": " + e.getMessage());
            }
            if (maxNewTokens >= positions) {
                throw new IllegalArgumentException("--max-new-tokens " + maxNewTokens + " leaves no room for a "
                        + "prompt in " + m.model() + "'s " + positions + " positions (max_position_embeddings)");
            }
        }
        // Z_all, H and each method's density: a grid x grid array of doubles each, per prompt.
        long bytes = (long) grid * grid * 8 * (named.size() + 3);
        long heap = Runtime.getRuntime().maxMemory();
        if (bytes > heap / 2) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "--grid %d needs about %.1f GB for the "
                    + "densities of %d methods, more than half this JVM's %.1f GB heap: use a smaller grid (the "
                    + "paper's figures need about 100)", grid, bytes / 1e9, named.size(), heap / 1e9));
        }
    }

    /** The most replies --samples draws per method and prompt: UMAP's neighbour graph is built over all of them. */
    static final int MAX_SAMPLES = 100_000;

    /** NAME=DIR pairs, each name a plain word (it names files). */
    static List<Exploration.Method> methods(List<String> specs) {
        List<Exploration.Method> out = new ArrayList<>();
        for (String s : specs) {
            int eq = s.indexOf('=');
            if (eq <= 0 || eq == s.length() - 1) {
                throw new IllegalArgumentException("--method must be NAME=DIR, got \"" + s + "\"");
            }
            String name = s.substring(0, eq);
            if (!name.matches("[A-Za-z0-9_.-]+")) {
                throw new IllegalArgumentException("--method " + s + ": the name may hold letters, digits, '_', '.' "
                        + "and '-' only");
            }
            out.add(new Exploration.Method(name, Path.of(s.substring(eq + 1))));
        }
        return out;
    }

    static void modelFolder(String option, Path folder) {
        if (!Files.isRegularFile(folder.resolve("config.json"))) {
            throw new IllegalArgumentException(option + ": " + folder + " is not a model folder (no config.json)");
        }
    }

    private Map<String, Object> identity(List<Exploration.Method> named, List<List<ChatMessage>> conversations)
            throws IOException {
        Map<String, Object> id = new LinkedHashMap<>();
        Map<String, Object> models = new LinkedHashMap<>();
        named.forEach(m -> models.put(m.name(), m.model().toAbsolutePath().normalize().toString()));
        id.put("methods", models);
        id.put("prompts", Sha256.hex(conversations.toString()));
        id.put("samples", samples);
        id.put("max_new_tokens", maxNewTokens);
        id.put("temperature", temperature);
        id.put("top_p", topP);
        id.put("batch", batch);
        id.put("seed", seed);
        id.put("dtype", dtype);
        return id;
    }

    private Coverage.Definition definition() {
        return switch (coverage.toLowerCase(java.util.Locale.ROOT)) {
            case "paper" -> Coverage.Definition.PAPER;
            case "fixed-z" -> Coverage.Definition.FIXED_Z;
            default -> throw new IllegalArgumentException("--coverage must be paper or fixed-z, got " + coverage);
        };
    }
}
