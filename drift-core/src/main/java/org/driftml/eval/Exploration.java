package org.driftml.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.output.Progress;
import org.driftml.data.internal.Sha256;
import org.driftml.model.RewardModel;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.Policy;
import org.driftml.model.spec.Precision;
import org.driftml.model.Sampler;
import org.driftml.model.TextEmbedder;
import org.driftml.output.OutputFolder;
import org.driftml.text.ChatMessage;

/**
 * The paper's exploration analysis (Sec. 4.3): for each prompt, n replies sampled from each method's model (DRIFT,
 * SPIN, IterDPO, ...), every reply embedded and rewarded, the prompt's replies projected to 2-D by UMAP, and the share
 * of the high-reward region each method covers ({@link Coverage}), averaged over prompts. In two steps, so that one
 * model is in memory at a time: {@link #sample} (each model loaded, used and freed in turn; replies journalled per
 * method, so a killed run resumes) and {@link #analyse} (embedder and reward model), then {@link #write}.
 */
public final class Exploration {
    /**
     * @param samples   n, replies per prompt per method (the paper: 128)
     * @param sampling  temperature, top-p, new tokens and the seed; the same for every method
     * @param batch     replies generated together
     * @param embedBatch replies embedded together, and scored together by the reward model
     * @param umap      the projection's settings (its seed included)
     * @param coverage  grid, quantile, z_high and bandwidth
     */
    public record Settings(int samples, Sampler.Settings sampling, int batch, int embedBatch, Umap.Settings umap,
            Coverage.Settings coverage) {
        public Settings {
            if (samples < 2) {
                throw new IllegalArgumentException("samples must be at least 2 per prompt and method (a kernel density"
                        + " needs spread points; the paper samples 128), got " + samples);
            }
            if (batch < 1 || embedBatch < 1) {
                throw new IllegalArgumentException("batch sizes must be >= 1");
            }
        }

        /**
         * The paper's analysis with {@code samples} replies per prompt: DRIFT's sampling (temperature 0.7, top-p
         * 0.9), 16 replies per batch, UMAP's defaults with cosine distance and the coverage defaults (grid 100, top
         * 20%, z_high 0.1, Scott's bandwidth), everything seeded by {@code seed}.
         */
        public static Settings paper(int samples, int maxNewTokens, long seed) {
            return new Settings(samples, Sampler.Settings.sampling(0.7, 0.9, maxNewTokens, java.util.Set.of(), seed),
                    16, 16, Umap.Settings.defaults(seed).withCosine(true), Coverage.Settings.defaults());
        }
    }

    /** A method's name (as the outputs label it) and its model folder. */
    public record Method(String name, Path model) {}

    /**
     * One prompt's analysis.
     *
     * @param prompt  the conversation
     * @param methods each reply's method
     * @param replies the replies, methods in order, n each
     * @param rewards each reply's reward
     * @param points  each reply in 2-D
     * @param coverage the surfaces and shares
     */
    public record PromptResult(List<ChatMessage> prompt, List<String> methods, List<String> replies, double[] rewards,
            double[][] points, Coverage.Result coverage) {
        /** The mean reward of a method's replies. */
        public double meanReward(String method) {
            double s = 0;
            int c = 0;
            for (int i = 0; i < methods.size(); i++) {
                if (methods.get(i).equals(method)) {
                    s += rewards[i];
                    c++;
                }
            }
            return s / c;
        }

        /** How many different replies a method gave. */
        public long distinct(String method) {
            List<String> mine = new ArrayList<>();
            for (int i = 0; i < methods.size(); i++) {
                if (methods.get(i).equals(method)) {
                    mine.add(replies.get(i));
                }
            }
            return mine.stream().distinct().count();
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Exploration() {}

    /**
     * Samples every method's replies, one model at a time (each freed before the next loads).
     *
     * @return per method name, replies.get(i): prompt i's n replies
     * @throws IllegalArgumentException when the methods' models have different tokenizers (naming two), a name repeats,
     *                                  or there are too few replies for UMAP
     */
    public static Map<String, List<List<String>>> sample(List<List<ChatMessage>> prompts, List<Method> methods,
            Settings s, Precision precision, ComputeDevice device, Path output, Progress progress)
            throws IOException {
        if (methods.isEmpty() || prompts.isEmpty()) {
            throw new IllegalArgumentException("need at least one method and one prompt");
        }
        if (methods.size() * s.samples() < 3) {
            throw new IllegalArgumentException("UMAP needs at least 3 replies per prompt: " + methods.size()
                    + " method(s) x " + s.samples() + " samples");
        }
        checkMethods(methods);
        Map<String, List<List<String>>> out = new LinkedHashMap<>();
        for (Method m : methods) {
            progress.line(String.format("sampling %d replies to each of %d prompts from %s (%s)", s.samples(),
                    prompts.size(), m.name(), m.model()));
            try (Policy policy = Policy.load(m.model(), precision, device)) {
                Sampler.Settings sampling = new Sampler.Settings(false, s.sampling().temperature(),
                        s.sampling().topP(), s.sampling().topK(), s.sampling().repetitionPenalty(),
                        s.sampling().maxNewTokens(), policy.endIds(), s.sampling().seed());
                out.put(m.name(), Replies.generate(policy, prompts, s.samples(), sampling, s.batch(),
                        output.resolve("samples-" + m.name() + ".jsonl"), progress));
            }
        }
        return out;
    }

    /**
     * Checks the methods before any work: names unique, and one tokenizer for all (models trained from one base).
     *
     * @throws IllegalArgumentException naming the repeated name, or two model folders whose tokenizers differ
     */
    public static void checkMethods(List<Method> methods) throws IOException {
        String tokenizer = null;
        Path first = null;
        List<String> names = new ArrayList<>();
        for (Method m : methods) {
            if (names.contains(m.name())) {
                throw new IllegalArgumentException("method \"" + m.name() + "\" is given twice");
            }
            names.add(m.name());
            String digest = tokenizerDigest(m);
            if (tokenizer != null && !tokenizer.equals(digest)) {
                throw new IllegalArgumentException("the methods' models have different tokenizers (" + first + " and "
                        + m.model() + "): compare models trained from one base");
            }
            tokenizer = digest;
            first = m.model();
        }
    }

    /** The files that define a tokenizer's vocabulary (tokenizer.json, or vocab.json with merges.txt), digested. */
    private static String tokenizerDigest(Method m) throws IOException {
        StringBuilder s = new StringBuilder();
        for (String f : List.of("tokenizer.json", "vocab.json", "merges.txt")) {
            Path file = m.model().resolve(f);
            if (Files.isRegularFile(file)) {
                s.append(f).append('\n').append(Files.readString(file)).append('\n');
            }
        }
        if (s.length() == 0) {
            throw new IllegalArgumentException("method " + m.name() + ": " + m.model() + " has no tokenizer "
                    + "(tokenizer.json, or vocab.json and merges.txt)");
        }
        return Sha256.hex(s.toString());
    }

    /** Rewards, embeddings, the projection and the coverage of each prompt. */
    public static List<PromptResult> analyse(List<List<ChatMessage>> prompts, Map<String, List<List<String>>> replies,
            RewardModel reward, TextEmbedder embedder, Settings s, Progress progress) {
        List<PromptResult> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            List<String> methods = new ArrayList<>(), texts = new ArrayList<>();
            for (Map.Entry<String, List<List<String>>> e : replies.entrySet()) {
                for (String r : e.getValue().get(i)) {
                    methods.add(e.getKey());
                    texts.add(r);
                }
            }
            double[] rewards = new double[texts.size()];
            for (int from = 0; from < texts.size(); from += s.embedBatch()) {  // a reward model scores one batch at once
                int to = Math.min(texts.size(), from + s.embedBatch());
                System.arraycopy(reward.score(prompts.get(i), texts.subList(from, to)), 0, rewards, from, to - from);
            }
            float[][] vectors = embedder.embed(texts, s.embedBatch());
            double[][] points = Umap.project(vectors, s.umap());
            Coverage.Result coverage;
            try {
                coverage = Coverage.of(points, methods, rewards, s.coverage());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("prompt " + i + ": " + e.getMessage());
            }
            out.add(new PromptResult(prompts.get(i), methods, texts, rewards, points, coverage));
            progress.line(String.format("  prompt %d/%d: shares %s", i + 1, prompts.size(),
                    rounded(coverage.share())));
        }
        return out;
    }

    /** Writes {@code coverage.json} (settings, the mean share per method, and per prompt its shares, mean rewards,
     *  distinct replies and bandwidth), a Figure-3-like {@code coverage-prompt-I.png} per prompt (the first
     *  {@code figures}) and the Figure-2-like {@code coverage.png}. */
    public static Map<String, Double> write(List<PromptResult> results, Settings s, Path output, int figures)
            throws IOException {
        Map<String, Double> mean = Coverage.mean(results.stream().map(PromptResult::coverage).toList());
        Map<String, Object> doc = new LinkedHashMap<>();
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("samples", s.samples());
        settings.put("temperature", s.sampling().temperature());
        settings.put("top_p", s.sampling().topP());
        settings.put("max_new_tokens", s.sampling().maxNewTokens());
        settings.put("seed", s.sampling().seed());
        Map<String, Object> umap = new LinkedHashMap<>();
        umap.put("n_neighbors", s.umap().neighbours());
        umap.put("min_dist", s.umap().minDist());
        umap.put("metric", s.umap().cosine() ? "cosine" : "euclidean");
        umap.put("seed", s.umap().seed());
        settings.put("umap", umap);
        settings.put("grid", s.coverage().grid());
        settings.put("quantile", s.coverage().quantile());
        settings.put("definition", s.coverage().definition().name().toLowerCase(java.util.Locale.ROOT)
                .replace('_', '-'));
        if (s.coverage().definition() == Coverage.Definition.FIXED_Z) {
            settings.put("z_high", s.coverage().zHigh());
        }
        settings.put("bandwidth", s.coverage().bandwidth() > 0 ? s.coverage().bandwidth() : "scott");
        doc.put("settings", settings);
        doc.put("mean_share", mean);
        List<Map<String, Object>> prompts = new ArrayList<>();
        for (int i = 0; i < results.size(); i++) {
            PromptResult r = results.get(i);
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("index", i);
            p.put("prompt", r.prompt().get(r.prompt().size() - 1).content());
            p.put("share", r.coverage().share());
            Map<String, Double> rewards = new LinkedHashMap<>();
            Map<String, Long> distinct = new LinkedHashMap<>();
            for (String m : r.coverage().share().keySet()) {
                rewards.put(m, r.meanReward(m));
                distinct.put(m, r.distinct(m));
            }
            p.put("mean_reward", rewards);
            p.put("distinct_replies", distinct);
            p.put("bandwidth", r.coverage().bandwidth());
            p.put("high_region_threshold", r.coverage().threshold());
            prompts.add(p);
            if (i < figures) {
                CoverageCharts.terrain(r, s.coverage(), "prompt " + i + ": "
                        + r.prompt().get(r.prompt().size() - 1).content(), output.resolve("coverage-prompt-" + i + ".png"));
            }
        }
        doc.put("prompts", prompts);
        Files.createDirectories(output);
        OutputFolder.writeAtomically(output.resolve("coverage.json"), JSON.writeValueAsString(doc) + "\n");
        CoverageCharts.bars(mean, "share of the high-reward region covered (mean over " + results.size()
                + " prompts)", output.resolve("coverage.png"));
        return mean;
    }

    static Map<String, String> rounded(Map<String, Double> share) {
        Map<String, String> r = new LinkedHashMap<>();
        share.forEach((k, v) -> r.put(k, String.format(java.util.Locale.ROOT, "%.3f", v)));
        return r;
    }
}
