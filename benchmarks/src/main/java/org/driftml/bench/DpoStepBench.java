package org.driftml.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.PreferenceLoss;
import org.driftml.model.spec.LoraConfig;
import org.driftml.model.Policy;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.parallel.ProcessGroup;
import org.driftml.parallel.WorldEnv;
import org.driftml.train.BaseModelReference;
import org.driftml.train.DpoConfig;
import org.driftml.train.DpoTrainer;
import org.driftml.train.FrozenReference;
import org.driftml.train.LinearSchedule;
import org.driftml.train.PairTokenizer;
import org.driftml.train.PrecomputedReference;
import org.driftml.train.ReferencePolicy;

/**
 * drift's side of shared/bench's DPO workload (trl_dpo_bench.py / torch_dpo_bench.py): the same model folder, the
 * same synthetic pairs (torch.randint from a CPU generator seeded 0: LibTorch's generator, so the ids are identical),
 * batch B pairs of prompt P + completion C, a frozen reference, sigmoid DPO with beta 0.1, RMSprop at lr 5e-7 with
 * transformers' linear warmup schedule (ratio 0.1), gradient clipping at 1.0. Prints each step and a last line
 * {@code DRIFT_DPO median_step_s=... tokens_per_s=... peak_rss_mb=...} like the Python scripts.
 *
 * <pre>java -cp ... org.driftml.bench.DpoStepBench MODEL_DIR [--steps 20] [--warmup 3] [--batch 4]
 *      [--prompt-len 64] [--completion-len 192] [--bf16] [--grad-ckpt] [--precompute-reference] [--lora-r R]
 *      [--lora-targets q_proj,v_proj] [--trace-memory] [--peak-gflops G]</pre>
 *
 * <p>It prints the CPU, the bf16 GEMM path, and the step's achieved GFLOP/s as a share of {@code --peak-gflops} (the
 * machine's measured GEMM rate, {@link GemmPeak}).
 *
 * <p>{@code --lora-r R} trains PEFT LoRA adapters of rank R (alpha 2R) on every linear layer (or the
 * {@code --lora-targets}) instead of every weight,
 * with the base model (adapters off) as the reference.
 */
public final class DpoStepBench {
    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        int steps = 20, warmup = 3, batch = 4, promptLength = 64, completionLength = 192;
        boolean bf16 = false, gradCkpt = false, precompute = false, trace = false;
        int loraRank = 0, zero = 0;
        double peakGflops = Double.NaN;
        String[] loraTargets = {LoraConfig.ALL_LINEAR};
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--prompt-len" -> promptLength = Integer.parseInt(args[++i]);
                case "--completion-len" -> completionLength = Integer.parseInt(args[++i]);
                case "--bf16" -> bf16 = true;
                case "--grad-ckpt" -> gradCkpt = true;
                case "--precompute-reference" -> precompute = true;
                case "--trace-memory" -> trace = true;
                case "--lora-r" -> loraRank = Integer.parseInt(args[++i]);
                case "--zero" -> zero = Integer.parseInt(args[++i]);
                case "--lora-targets" -> loraTargets = args[++i].split(",");
                case "--peak-gflops" -> peakGflops = Double.parseDouble(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        NativeRuntime.load();
        System.out.println(CpuInfo.describe() + "; bf16 GEMM path " + org.driftml.kernels.SequenceLogps.bf16GemmPath());
        HeapTrace heap = trace ? HeapTrace.start() : null;
        if (heap != null) heap.mark("runtime loaded");
        Policy policy = Policy.loadWeights(model, bf16 ? Precision.BF16 : Precision.FP32, ComputeDevice.CPU);
        int vocab = policy.config().vocabSize();
        List<PairTokenizer.TokenizedPair> pairs = syntheticPairs(batch * steps, promptLength, completionLength, vocab);
        DpoConfig config = DpoConfig.iteration().with(DpoConfig.RPO_ALPHA, 0.0).withBatch(batch, 1)
                .withGradientCheckpointing(gradCkpt);
        // TRL's default: a frozen copy scored every step. DRIFT's loop scores the reference once per stage instead
        // (TRL's precompute_ref_log_probs), so training holds one model: --precompute-reference.
        ReferencePolicy reference;
        if (loraRank > 0) {
            // PEFT LoRA on every linear layer, alpha 2r; the base (adapters off) is the reference, as TRL with PEFT.
            policy.addAdapters(LoraConfig.of(loraRank, 2.0 * loraRank, loraTargets), 0);
            reference = new BaseModelReference(policy.decoder());
        } else if (precompute) {
            try (var frozen = policy.decoder().frozenCopy()) {
                reference = PrecomputedReference.compute(new FrozenReference(frozen), pairs, 0, batch);
            }
        } else {
            reference = new FrozenReference(policy.decoder().frozenCopy());
        }
        if (heap != null) heap.mark("policy and reference");
        // Data parallel when started with torchrun's variables (benchmarks/data-parallel.sh): each rank its share,
        // the optimiser sharded at --zero.
        WorldEnv world = WorldEnv.fromEnvironment(System.getenv());
        ProcessGroup group = world.worldSize() > 1 ? ProcessGroup.join(world, java.time.Duration.ofMinutes(5)) : null;
        DpoTrainer trainer = new DpoTrainer(policy.decoder(), reference, config, 0, 0, java.util.Map.of(), group,
                group == null ? 0 : zero);
        double[] allreduce = new double[steps], allgather = new double[steps];
        if (heap != null) heap.mark("trainer (masters, optimizer state)");
        LinearSchedule schedule = LinearSchedule.of(5e-7, steps, 0.1);
        double[] seconds = new double[steps];
        for (int s = 0; s < steps; s++) {
            List<Integer> idx = new ArrayList<>();
            for (int i = 0; i < batch; i++) {
                idx.add((s * batch + i) % pairs.size());
            }
            double lr = schedule.at(s);
            long t0 = System.nanoTime();
            var m = trainer.optimizerStep(pairs, idx, s, lr);
            seconds[s] = (System.nanoTime() - t0) / 1e9;
            allreduce[s] = Double.isNaN(m.allreduceSeconds()) ? 0 : m.allreduceSeconds();
            allgather[s] = Double.isNaN(m.allgatherSeconds()) ? 0 : m.allgatherSeconds();
            if (heap != null) heap.mark("step " + (s + 1));
            System.out.printf("step %d/%d loss=%.6f grad_norm=%.4g lr=%.3g step_s=%.3f rss_mb=%d%n", s + 1, steps,
                    m.loss(), m.gradNorm(), lr, seconds[s], PeakMemory.status("VmRSS:") / 1024);
        }
        double[] timed = Arrays.copyOfRange(seconds, warmup, steps);
        Arrays.sort(timed);
        double median = timed.length % 2 == 1 ? timed[timed.length / 2]
                : (timed[timed.length / 2 - 1] + timed[timed.length / 2]) / 2;
        long tokens = (long) batch * 2 * (promptLength + completionLength);
        double[] reduce = Arrays.copyOfRange(allreduce, warmup, steps);
        Arrays.sort(reduce);
        double[] gather = Arrays.copyOfRange(allgather, warmup, steps);
        Arrays.sort(gather);
        System.out.printf("DRIFT_DPO median_step_s=%.3f tokens_per_s=%.0f peak_rss_mb=%d dtype=%s%s%s%n", median,
                tokens / median, PeakMemory.status("VmHWM:") / 1024, bf16 ? "bf16-compute-fp32-master" : "fp32",
                loraRank > 0 ? " lora_r=" + loraRank : "", group == null ? "" : String.format(
                        " rank=%d world=%d zero=%d median_allreduce_s=%.3f median_allgather_s=%.3f", group.rank(),
                        group.worldSize(), zero, reduce[reduce.length / 2], gather[gather.length / 2]));
        // The step's arithmetic as the issue counts it: 2 FLOP per parameter and token for each forward (the policy's,
        // the reference's, and the recomputed one under checkpointing) and 4 for the backward.
        long params = 0;
        for (Tensor w : policy.decoder().weights().values()) {
            params += w.numel();
        }
        double stepFlop = 2.0 * params * tokens * (gradCkpt ? 5 : 4);
        double achieved = stepFlop / median / 1e9;
        System.out.printf(java.util.Locale.ROOT, "DRIFT_DPO_FLOPS params=%d step_tflop=%.2f achieved_gflops=%.1f%s%n",
                params, stepFlop / 1e12, achieved, Double.isNaN(peakGflops) ? "" : String.format(java.util.Locale.ROOT,
                        " peak_gflops=%.1f peak_share=%.2f", peakGflops, achieved / peakGflops));
        System.out.printf("DRIFT_DPO_STATE optimizer_mb=%.1f gradient_mb=%.1f%n", trainer.optimizerBytes() / 1048576.0,
                trainer.gradientBytes() / 1048576.0);
        if (group != null) {
            group.close();
        }
    }

    /** bench_common.synthetic_pairs: prompt ids, then (C - 1) ids + EOS for chosen and for rejected. */
    static List<PairTokenizer.TokenizedPair> syntheticPairs(int n, int prompt, int completion, int vocab) {
        Generator g = torch.createCPUGenerator(0);
        List<PairTokenizer.TokenizedPair> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long[] p = draw(g, prompt, vocab);
            long[] c = Arrays.copyOf(draw(g, completion - 1, vocab), completion);
            long[] r = Arrays.copyOf(draw(g, completion - 1, vocab), completion);
            c[completion - 1] = 2;
            r[completion - 1] = 2;
            out.add(new PairTokenizer.TokenizedPair(p, c, r, false));
        }
        return out;
    }

    private static long[] draw(Generator g, int k, int vocab) {
        Tensor t = torch.randint(4, vocab, new long[] {k}, new GeneratorOptional(g),
                new org.bytedeco.pytorch.TensorOptions(ScalarType.Long));
        long[] out = new long[k];
        for (int i = 0; i < k; i++) {
            out[i] = t.get(i).item_long();
        }
        return out;
    }
}
