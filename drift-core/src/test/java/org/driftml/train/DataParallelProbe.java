package org.driftml.train;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.report.StepMetrics;
import org.driftml.output.Progress;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.driftml.parallel.ProcessGroup;
import org.driftml.parallel.WorldEnv;

/**
 * One rank of DataParallelTest's runs (torchrun's variables; none: one process): DPO on the tiny Qwen2, 12 random
 * pairs, batch 4 in micro-batches of {@code 4 / (ranks x accumulation)}, 2 epochs, lr 1e-3, in fp32 or bf16 (fp32 masters from
 * the fixture's weights), with the optimiser sharded at the ZeRO stage given. It checkpoints into OUTPUT at the end
 * (every rank its shard under ZeRO), so {@code OUTPUT/checkpoint-6} holds the fp32 masters; rank 0 prints each
 * step's loss and grad_norm.
 *
 * <pre>java ... DataParallelProbe OUTPUT ACCUMULATION CHECKPOINTING ZERO_STAGE DTYPE [DIE_AFTER_STEP]</pre>
 *
 * <p>With DIE_AFTER_STEP, rank 1 halts (as a killed process) after that step; the others then fail, print {@code
 * error: MESSAGE} and exit 1.
 */
public final class DataParallelProbe {
    public static void main(String[] args) throws Exception {
        WorldEnv env = WorldEnv.fromEnvironment(System.getenv());
        int dieAfter = args.length > 5 ? Integer.parseInt(args[5]) : 0;
        try (ProcessGroup group = env.worldSize() > 1 ? ProcessGroup.join(env, Duration.ofSeconds(60)) : null) {
            dying = dieAfter > 0 && env.rank() == 1 ? dieAfter : 0;
            run(group, Path.of(args[0]), Integer.parseInt(args[1]), Boolean.parseBoolean(args[2]),
                    Integer.parseInt(args[3]), args[4].equals("bf16"));
        } catch (IllegalStateException e) {
            System.out.println("error: " + e.getMessage());
            System.exit(1);
        }
        System.exit(0);
    }

    private static int dying;

    static List<StepMetrics> run(ProcessGroup group, Path output, int accumulation, boolean checkpointing,
            int zero, boolean bf16) throws Exception {
        try (StepScope scope = StepScope.open()) {
            Decoder policy = Decoder.load(DpoTrainerTest.tinyQwen2(), bf16 ? ScalarType.BFloat16 : ScalarType.Float);
            Decoder full = bf16 ? DpoTrainerTest.policy() : null;
            DpoConfig config = DpoTrainerTest.fast(1e-3, 4, accumulation, 2).withGradientCheckpointing(checkpointing);
            DpoTrainer trainer = new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()), config, 0, 11,
                    full != null ? full.weights() : Map.of(), group, zero);
            if (full != null) {
                full.close();
            }
            trainer.progress("dpo", new Progress() {
                @Override
                public void stepDone(String stage, int step) {
                    if (step == dying) {
                        Runtime.getRuntime().halt(137);  // no shutdown hooks, no goodbye: as SIGKILL
                    }
                }
            });
            List<PairTokenizer.TokenizedPair> pairs = DpoTrainerTest.pairs(12, 5);
            List<StepMetrics> steps = group == null || group.rank() == 0
                    ? trainer.train(pairs, output, 0, Integer.MAX_VALUE)
                    : trainer.trainAlongside(pairs, output, 0, Integer.MAX_VALUE);
            if (group == null || group.rank() == 0) {
                for (int i = 0; i < steps.size(); i++) {
                    System.out.printf("step %d loss %.9g grad_norm %.9g%n", i + 1, steps.get(i).get("loss"),
                            steps.get(i).get("grad_norm"));
                }
            }
            trainer.close();
            return steps;
        }
    }
}
