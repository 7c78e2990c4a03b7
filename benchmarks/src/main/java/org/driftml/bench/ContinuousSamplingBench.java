package org.driftml.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.driftml.kernels.NativeRuntime;
import org.driftml.model.ContinuousBatcher;
import org.driftml.model.Policy;
import org.driftml.model.Sampler;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;

/**
 * The DRIFT loop's positive sampling on replies of mixed length, two ways on the same prompts: static batches of B
 * (how the loop sampled before issue 30: each batch runs until its longest reply ends) and the continuous batcher with
 * B slots (a slot is refilled as soon as its reply ends). Random weights never choose an end token on purpose, so a
 * set of stop ids (a 1/L share of the vocabulary) ends each reply after a geometric number of tokens, mean about L.
 * Sampling as DRIFT does (temperature 0.7, top-p 0.9); each side draws its own lengths, so throughput is compared
 * in tokens per second.
 *
 * <p>Then greedy replies: each prompt alone, against the same prompts decoded together (continuous, B slots) and in
 * static batches (left-padded): how many replies differ from the solo one, and where they first differ.
 *
 * <pre>java -cp ... org.driftml.bench.ContinuousSamplingBench MODEL_DIR [--prompts 64] [--batch 8] [--max-new 256]
 *     [--mean 64] [--greedy-prompts 32] [--greedy-new 64] [--bf16]</pre>
 */
public final class ContinuousSamplingBench {
    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        int n = 64, batch = 8, maxNew = 256, mean = 64, greedyPrompts = 32, greedyNew = 64;
        boolean bf16 = false;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--prompts" -> n = Integer.parseInt(args[++i]);
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--max-new" -> maxNew = Integer.parseInt(args[++i]);
                case "--mean" -> mean = Integer.parseInt(args[++i]);
                case "--greedy-prompts" -> greedyPrompts = Integer.parseInt(args[++i]);
                case "--greedy-new" -> greedyNew = Integer.parseInt(args[++i]);
                case "--bf16" -> bf16 = true;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        NativeRuntime.load();
        try (Policy policy = Policy.loadWeights(model, bf16 ? Precision.BF16 : Precision.FP32, ComputeDevice.CPU)) {
            long vocab = policy.config().vocabSize();
            Random r = new Random(0);
            List<long[]> prompts = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                prompts.add(r.longs(32 + r.nextInt(64), 4, vocab).toArray());  // 32..95 tokens
            }
            Set<Long> stops = LongStream.range(vocab - vocab / mean, vocab).boxed().collect(Collectors.toSet());
            Sampler.Settings s = Sampler.Settings.sampling(0.7, 0.9, maxNew, stops, 0);
            policy.generateIds(prompts.subList(0, 2), s.withMaxNewTokens(4));  // warm-up, untimed

            long t0 = System.nanoTime(), staticTokens = 0;
            for (int c = 0; c < n; c += batch) {
                for (Sampler.Generation g : policy.generateIds(prompts.subList(c, Math.min(n, c + batch)),
                        s.withSeed(c))) {
                    staticTokens += g.outputIds().length;
                }
            }
            double staticSeconds = (System.nanoTime() - t0) / 1e9;

            List<Sampler.Settings> each = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                each.add(s.withSeed(1000 + i));
            }
            int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(1);
            long t1 = System.nanoTime(), continuousTokens = 0;
            try (ContinuousBatcher b = policy.batcher(new ContinuousBatcher.Limits(batch, longest + maxNew, batch,
                    8192))) {
                for (Sampler.Generation g : b.generate(prompts, each)) {
                    continuousTokens += g.outputIds().length;
                }
            }
            double continuousSeconds = (System.nanoTime() - t1) / 1e9;
            double staticRate = staticTokens / staticSeconds, continuousRate = continuousTokens / continuousSeconds;
            System.out.printf("SAMPLE_MIXED prompts=%d batch=%d max_new=%d mean_target=%d dtype=%s "
                    + "static_tokens=%d static_s=%.2f static_tok_s=%.1f continuous_tokens=%d continuous_s=%.2f "
                    + "continuous_tok_s=%.1f speedup=%.2f%n", n, batch, maxNew, mean, bf16 ? "bf16" : "fp32",
                    staticTokens, staticSeconds, staticRate, continuousTokens, continuousSeconds, continuousRate,
                    continuousRate / staticRate);

            greedy(policy, prompts.subList(0, Math.min(greedyPrompts, n)), batch, greedyNew, bf16);
        }
    }

    /** Greedy replies alone, continuously batched and statically batched: how many differ from alone, and where. */
    private static void greedy(Policy policy, List<long[]> prompts, int batch, int newTokens, boolean bf16) {
        Sampler.Settings g = Sampler.Settings.greedy(newTokens, Set.of());
        int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(1);
        List<long[]> solo = new ArrayList<>(), together, stat = new ArrayList<>();
        try (ContinuousBatcher b = policy.batcher(new ContinuousBatcher.Limits(batch, longest + newTokens,
                prompts.size(), 8192))) {
            for (long[] p : prompts) {
                solo.add(b.generate(List.of(p), List.of(g)).get(0).outputIds());
            }
            together = b.generate(prompts, java.util.Collections.nCopies(prompts.size(), g)).stream()
                    .map(Sampler.Generation::outputIds).toList();
        }
        for (int c = 0; c < prompts.size(); c += batch) {
            for (Sampler.Generation x : policy.generateIds(prompts.subList(c, Math.min(prompts.size(), c + batch)),
                    g)) {
                stat.add(x.outputIds());
            }
        }
        System.out.printf("GREEDY_DIVERGENCE prompts=%d new=%d batch=%d dtype=%s continuous_differ=%d first_at=%s "
                + "static_differ=%d first_at=%s%n", prompts.size(), newTokens, batch, bf16 ? "bf16" : "fp32",
                differing(solo, together), firsts(solo, together), differing(solo, stat), firsts(solo, stat));
    }

    private static int differing(List<long[]> a, List<long[]> b) {
        int d = 0;
        for (int i = 0; i < a.size(); i++) {
            d += java.util.Arrays.equals(a.get(i), b.get(i)) ? 0 : 1;
        }
        return d;
    }

    /** The first differing position of each differing reply, as a list. */
    private static String firsts(List<long[]> a, List<long[]> b) {
        List<Integer> at = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            int m = java.util.Arrays.mismatch(a.get(i), b.get(i));
            if (m >= 0) {
                at.add(m);
            }
        }
        return at.toString().replace(" ", "");
    }
}
