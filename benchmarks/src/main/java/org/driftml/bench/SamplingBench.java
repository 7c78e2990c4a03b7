package org.driftml.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.driftml.kernels.NativeRuntime;
import org.driftml.model.Sampler;
import org.driftml.model.Policy;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;

/**
 * DRIFT's positive sampling (temperature 0.7, top-p 0.9) at one batch size, timed as {@code scripts/hf_sampling_bench.py}
 * times transformers' generate: B random prompts of P tokens, N new tokens each (no stop id, so every sequence runs
 * to N), one untimed warm-up generation of 4 tokens first. Last line:
 * {@code DRIFT_SAMPLE batch=B tokens_per_s=... seconds=... peak_rss_mb=...}.
 *
 * <pre>java -cp ... org.driftml.bench.SamplingBench MODEL_DIR [--batch 8] [--prompt-len 64] [--new-tokens 128] [--bf16]</pre>
 */
public final class SamplingBench {
    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        int batch = 8, promptLength = 64, newTokens = 128;
        boolean bf16 = false;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--prompt-len" -> promptLength = Integer.parseInt(args[++i]);
                case "--new-tokens" -> newTokens = Integer.parseInt(args[++i]);
                case "--bf16" -> bf16 = true;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        NativeRuntime.load();
        try (Policy policy = Policy.loadWeights(model, bf16 ? Precision.BF16 : Precision.FP32, ComputeDevice.CPU)) {
            Random r = new Random(0);
            List<long[]> prompts = new ArrayList<>();
            for (int i = 0; i < batch; i++) {
                prompts.add(r.longs(promptLength, 4, policy.config().vocabSize()).toArray());
            }
            policy.generateIds(prompts, Sampler.Settings.sampling(0.7, 0.9, 4, Set.of(), 1));
            long t0 = System.nanoTime();
            List<Sampler.Generation> out = policy.generateIds(prompts, Sampler.Settings.sampling(0.7, 0.9, newTokens,
                    Set.of(), 0));
            double seconds = (System.nanoTime() - t0) / 1e9;
            long tokens = out.stream().mapToLong(g -> g.outputIds().length).sum();
            System.out.printf("DRIFT_SAMPLE batch=%d tokens_per_s=%.1f seconds=%.2f new_tokens=%d peak_rss_mb=%d%n",
                    batch, tokens / seconds, seconds, tokens, PeakMemory.status("VmHWM:") / 1024);
        }
    }
}
