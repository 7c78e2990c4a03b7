package org.driftml.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.SequenceLogps;
import org.driftml.kernels.StepScope;

/**
 * What this machine's GEMMs do at a model's shapes (issue 33): fp32 and bf16 {@code mm} through LibTorch (OpenBLAS for
 * fp32, oneDNN for bf16 in this build), and drift's own bf16 kernels on every path this CPU has: the sequence log-prob
 * op's tile GEMMs (forward and backward) and the bf16 attention backward's reduced GEMMs. Medians of repeated runs,
 * in GFLOP/s; the last lines are the machine's measured rates the step benchmarks divide by:
 * {@code GEMM_PEAK fp32_gflops=... bf16_gflops=...} (the best of the model's shapes through LibTorch).
 *
 * <pre>java -cp ... org.driftml.bench.GemmPeak [--hidden 896] [--intermediate 4864] [--vocab 151936] [--tokens 1024]
 *     [--heads 14] [--head-dim 64] [--repeats 5] [--libtorch-only]</pre>
 */
public final class GemmPeak {
    public static void main(String[] args) {
        int hidden = 896, intermediate = 4864, vocab = 151936, tokens = 1024, heads = 14, headDim = 64, repeats = 5;
        boolean libtorchOnly = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--hidden" -> hidden = Integer.parseInt(args[++i]);
                case "--intermediate" -> intermediate = Integer.parseInt(args[++i]);
                case "--vocab" -> vocab = Integer.parseInt(args[++i]);
                case "--tokens" -> tokens = Integer.parseInt(args[++i]);
                case "--heads" -> heads = Integer.parseInt(args[++i]);
                case "--head-dim" -> headDim = Integer.parseInt(args[++i]);
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                case "--libtorch-only" -> libtorchOnly = true;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        NativeRuntime.load();
        System.out.println(CpuInfo.describe());
        System.out.printf("threads %d; bf16 GEMM paths: best %s%n", NativeRuntime.threads(),
                SequenceLogps.bf16GemmBestPath());
        // The decoder's projections and the lm-head ([tokens x hidden] x [hidden x vocab], most of a small model's).
        long[][] shapes = {{tokens, hidden, intermediate}, {tokens, intermediate, hidden}, {tokens, hidden, hidden},
            {tokens, hidden, 4L * hidden}, {tokens, hidden, vocab}};
        double bestFp32 = 0, bestBf16 = 0;
        for (long[] s : shapes) {
            double f32 = mm(s, ScalarType.Float, repeats), b16 = mm(s, ScalarType.BFloat16, repeats);
            bestFp32 = Math.max(bestFp32, f32);
            bestBf16 = Math.max(bestBf16, b16);
            System.out.printf(Locale.ROOT, "LibTorch mm [%d x %d] x [%d x %d]: fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s%n",
                    s[0], s[1], s[1], s[2], f32, b16);
        }
        String best = SequenceLogps.bf16GemmBestPath();
        for (String path : libtorchOnly ? new String[0] : new String[] {"AMX", "AVX512_BF16", "WIDEN"}) {
            if (!SequenceLogps.useBf16GemmPath(path)) {
                System.out.printf("drift bf16 path %s: this CPU lacks it%n", path);
                continue;
            }
            double[] logps = logps(tokens, hidden, vocab, repeats);
            double attention = attentionBackward(tokens, heads, headDim, repeats);
            System.out.printf(Locale.ROOT, "drift bf16 path %s: log-prob tiles forward %.1f GFLOP/s, forward + "
                    + "backward %.1f GFLOP/s; bf16 attention forward + backward %.1f GFLOP/s%n", path, logps[0],
                    logps[1], attention);
        }
        SequenceLogps.useBf16GemmPath(best);
        System.out.printf(Locale.ROOT, "GEMM_PEAK fp32_gflops=%.1f bf16_gflops=%.1f%n", bestFp32, bestBf16);
    }

    /** Median GFLOP/s of a [m, k] x [k, n] mm in {@code type}. */
    static double mm(long[] s, ScalarType type, int repeats) {
        try (StepScope scope = StepScope.open()) {
            Tensor a = torch.randn(s[0], s[1]).to(type), b = torch.randn(s[1], s[2]).to(type);
            a.mm(b);  // warm-up: oneDNN's primitive, OpenBLAS's buffers
            List<Double> seconds = new ArrayList<>();
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                a.mm(b);
                seconds.add((System.nanoTime() - t0) / 1e9);
            }
            return 2.0 * s[0] * s[1] * s[2] / median(seconds) / 1e9;
        }
    }

    /**
     * The sequence log-prob op on {@code tokens} scored positions of one sequence: forward (one [tokens x hidden] x
     * [hidden x vocab] GEMM) and forward + backward (three: logits recomputed, dhidden, dweight).
     */
    static double[] logps(int tokens, int hidden, int vocab, int repeats) {
        try (StepScope scope = StepScope.open()) {
            Tensor h = torch.randn(1, tokens, hidden).mul(new org.bytedeco.pytorch.Scalar(0.1)).to(ScalarType.BFloat16);
            Tensor w = torch.randn(vocab, hidden).mul(new org.bytedeco.pytorch.Scalar(0.02)).to(ScalarType.BFloat16);
            Tensor targets = torch.randint(0, vocab, new long[] {1, tokens});
            Tensor mask = torch.ones(1, tokens).to(ScalarType.Bool);
            double flop = 2.0 * tokens * hidden * vocab;
            List<Double> forward = new ArrayList<>(), both = new ArrayList<>();
            for (int r = 0; r <= repeats; r++) {
                try (StepScope step = StepScope.open()) {
                    Tensor hl = h.detach().requires_grad_(true), wl = w.detach().requires_grad_(true);
                    long t0 = System.nanoTime();
                    Tensor logp = SequenceLogps.compute(hl, wl, targets, mask).logps();
                    long t1 = System.nanoTime();
                    logp.sum().backward();
                    long t2 = System.nanoTime();
                    if (r > 0) {  // the first: warm-up
                        forward.add((t1 - t0) / 1e9);
                        both.add((t2 - t0) / 1e9);
                    }
                }
            }
            return new double[] {flop / median(forward) / 1e9, 4 * flop / median(both) / 1e9};
        }
    }

    /** Causal bf16 SDPA on [1, heads, tokens, headDim], forward and backward (its GEMMs: 2 forward, 5 backward). */
    static double attentionBackward(int tokens, int heads, int headDim, int repeats) {
        try (StepScope scope = StepScope.open()) {
            Tensor q = torch.randn(1, heads, tokens, headDim).to(ScalarType.BFloat16);
            Tensor k = torch.randn(1, heads, tokens, headDim).to(ScalarType.BFloat16);
            Tensor v = torch.randn(1, heads, tokens, headDim).to(ScalarType.BFloat16);
            // Causal: half of the [tokens x tokens] score matrix, 7 GEMMs of 2 * tokens^2 * headDim / 2 each per head.
            double flop = 7.0 * heads * tokens * (double) tokens * headDim;
            List<Double> seconds = new ArrayList<>();
            for (int r = 0; r <= repeats; r++) {
                try (StepScope step = StepScope.open()) {
                    Tensor ql = q.detach().requires_grad_(true), kl = k.detach().requires_grad_(true);
                    Tensor vl = v.detach().requires_grad_(true);
                    long t0 = System.nanoTime();
                    torch.scaled_dot_product_attention(ql, kl, vl, new TensorOptional(), 0.0, true,
                            new DoubleOptional(), false).sum().backward();
                    if (r > 0) {
                        seconds.add((System.nanoTime() - t0) / 1e9);
                    }
                }
            }
            return flop / median(seconds) / 1e9;
        }
    }

    static double median(List<Double> xs) {
        List<Double> sorted = new ArrayList<>(xs);
        sorted.sort(null);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
