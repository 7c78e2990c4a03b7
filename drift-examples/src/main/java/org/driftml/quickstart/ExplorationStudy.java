package org.driftml.quickstart;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.driftml.output.Progress;
import org.driftml.drift.DriftConfig;
import org.driftml.model.RewardModel;
import org.driftml.eval.Coverage;
import org.driftml.eval.Exploration;
import org.driftml.eval.Umap;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.model.Sampler;
import org.driftml.model.TextEmbedder;
import org.driftml.text.ChatMessage;

/**
 * The paper's exploration analysis (Sec. 4.3) in the simulated world: a few held-out tasks, n replies to each from
 * every method's final model of one seed (DRIFT's sampling: temperature 0.7, top-p 0.9), embedded by the base policy,
 * rewarded by the exact gold reward r*, and the share of the high-reward region each method covers. Written to
 * {@code OUTPUT/coverage/}.
 */
final class ExplorationStudy {
    static final int PROMPTS = 6, SAMPLES = 32, FIGURES = 2;

    /** The gold reward as a reward model: each prompt is one of the study's tasks. */
    private record GoldReward(Map<String, WordTask> tasks) implements RewardModel {
        @Override
        public double[] score(List<ChatMessage> prompt, List<String> responses) {
            WordTask t = tasks.get(prompt.get(prompt.size() - 1).content());
            return responses.stream().mapToDouble(t::reward).toArray();
        }
    }

    /** One method's result: its share of H, and its samples' mean gold reward and distinct replies per prompt. */
    record Row(String method, double share, double meanReward, double distinct) {}

    private ExplorationStudy() {}

    static List<Row> run(Path base, Path seedDir, int iterations, int maxNewTokens, long seed, Path out,
            Progress progress) throws IOException {
        Random r = new Random(seed + 31_337);
        Map<String, WordTask> tasks = new HashMap<>();
        List<List<ChatMessage>> prompts = new ArrayList<>();
        while (prompts.size() < PROMPTS) {
            WordTask t = WordTask.sample(r);
            if (tasks.putIfAbsent(t.prompt(), t) == null) {
                prompts.add(List.of(ChatMessage.user(t.prompt())));
            }
        }
        List<Exploration.Method> methods = new ArrayList<>();
        for (DriftConfig.Method m : Quickstart.METHODS) {
            String name = m.name().toLowerCase(Locale.ROOT);
            methods.add(new Exploration.Method(name, seedDir.resolve(name).resolve("iteration-" + iterations)));
        }
        Exploration.Settings s = new Exploration.Settings(SAMPLES, Sampler.Settings.sampling(0.7, 0.9, maxNewTokens,
                java.util.Set.of(), seed), 64, 64, Umap.Settings.defaults(seed).withCosine(true),
                Coverage.Settings.defaults());
        Map<String, List<List<String>>> replies = Exploration.sample(prompts, methods, s, Precision.FP32,
                ComputeDevice.CPU, out, Progress.SILENT);
        List<Exploration.PromptResult> results;
        try (TextEmbedder embedder = TextEmbedder.load(base, Precision.FP32, ComputeDevice.CPU,
                TextEmbedder.Pooling.MEAN, 64)) {
            results = Exploration.analyse(prompts, replies, new GoldReward(tasks), embedder, s, Progress.SILENT);
        }
        Map<String, Double> mean = Exploration.write(results, s, out, FIGURES);
        List<Row> rows = new ArrayList<>();
        for (Exploration.Method m : methods) {
            double reward = results.stream().mapToDouble(p -> p.meanReward(m.name())).average().orElse(0);
            double distinct = results.stream().mapToDouble(p -> p.distinct(m.name())).average().orElse(0);
            rows.add(new Row(m.name(), mean.get(m.name()), reward, distinct));
        }
        progress.line("exploration: shares of the high-reward region " + rows);
        return rows;
    }
}
