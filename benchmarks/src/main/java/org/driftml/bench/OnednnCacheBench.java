package org.driftml.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.driftml.kernels.NativeHeap;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.PreferenceLoss;
import org.driftml.model.Policy;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.train.DpoConfig;
import org.driftml.train.DpoTrainer;
import org.driftml.train.FrozenReference;
import org.driftml.train.PairTokenizer;

/**
 * What oneDNN's per-shape caches cost across DPO steps whose batches all have different lengths, as DRIFT's do
 * (each batch is padded to its longest pair): one optimizer step per length, completion lengths C, C + 8, C + 16,
 * ..., then the same lengths again. Prints the native heap after each step, and a last line
 * {@code ONEDNN_CACHE first_pass_growth_mb=... second_pass_growth_mb=... first_pass_s=... second_pass_s=...}.
 * Run it under different {@code ONEDNN_PRIMITIVE_CACHE_CAPACITY} / {@code LRU_CACHE_CAPACITY} values to see the bound.
 *
 * <pre>java -cp ... org.driftml.bench.OnednnCacheBench MODEL_DIR [--lengths 40] [--completion-len 64] [--bf16]</pre>
 */
public final class OnednnCacheBench {
    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        int lengths = 40, completion = 64;
        boolean bf16 = false;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--lengths" -> lengths = Integer.parseInt(args[++i]);
                case "--completion-len" -> completion = Integer.parseInt(args[++i]);
                case "--bf16" -> bf16 = true;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        NativeRuntime.load();
        Policy policy = Policy.loadWeights(model, bf16 ? Precision.BF16 : Precision.FP32, ComputeDevice.CPU);
        int vocab = policy.config().vocabSize();
        List<PairTokenizer.TokenizedPair> pairs = new ArrayList<>();
        for (int k = 0; k < lengths; k++) {
            pairs.addAll(DpoStepBench.syntheticPairs(1, 32, completion + 8 * k, vocab));
        }
        DpoConfig config = DpoConfig.iteration().with(DpoConfig.RPO_ALPHA, 0.0).withBatch(1, 1);
        try (DpoTrainer trainer = new DpoTrainer(policy.decoder(),
                new FrozenReference(policy.decoder().frozenCopy()), config, 0, 0)) {
            trainer.optimizerStep(pairs, List.of(0), 0, 5e-7);  // warm-up: optimizer state, first primitives
            long start = NativeHeap.bytesInUse();
            long[] heapAfterPass = new long[2];
            double[] passSeconds = new double[2];
            for (int pass = 0; pass < 2; pass++) {
                long t0 = System.nanoTime();
                for (int k = 0; k < lengths; k++) {
                    trainer.optimizerStep(pairs, List.of(k), k, 5e-7);
                    System.out.printf("pass %d length %d native_heap_mb=%.1f%n", pass + 1,
                            pairs.get(k).prompt().length + pairs.get(k).chosen().length,
                            NativeHeap.bytesInUse() / 1e6);
                }
                passSeconds[pass] = (System.nanoTime() - t0) / 1e9;
                heapAfterPass[pass] = NativeHeap.bytesInUse();
            }
            System.out.printf("ONEDNN_CACHE first_pass_growth_mb=%.1f second_pass_growth_mb=%.1f first_pass_s=%.2f "
                    + "second_pass_s=%.2f primitive_cache=%s lru_cache=%s%n", (heapAfterPass[0] - start) / 1e6,
                    (heapAfterPass[1] - heapAfterPass[0]) / 1e6, passSeconds[0], passSeconds[1],
                    System.getenv().getOrDefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "default"),
                    System.getenv().getOrDefault("LRU_CACHE_CAPACITY", "default"));
        }
        policy.close();
    }
}
