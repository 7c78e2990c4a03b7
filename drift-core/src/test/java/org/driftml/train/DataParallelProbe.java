package org.driftml.train;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.SafetensorsWriter;
import org.driftml.parallel.ProcessGroup;
import org.driftml.parallel.WorldEnv;

/**
 * One rank of DataParallelTest's runs (torchrun's variables; none: one process): DPO on the tiny Qwen2, 12 random
 * pairs, batch 4 in micro-batches of {@code 4 / accumulation}, 2 epochs, lr 1e-3. Rank 0 prints each step's loss
 * and grad_norm and writes the trained weights to the file given.
 *
 * <pre>java ... DataParallelProbe WEIGHTS.safetensors ACCUMULATION [GRADIENT_CHECKPOINTING [DIE_AFTER_STEP]]</pre>
 *
 * <p>With DIE_AFTER_STEP, rank 1 halts (as a killed process) after that step; the others then fail, print {@code
 * error: MESSAGE} and exit 1.
 */
public final class DataParallelProbe {
    public static void main(String[] args) throws Exception {
        WorldEnv env = WorldEnv.fromEnvironment(System.getenv());
        int dieAfter = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        try (ProcessGroup group = env.worldSize() > 1 ? ProcessGroup.join(env, Duration.ofSeconds(60)) : null) {
            dying = dieAfter > 0 && env.rank() == 1 ? dieAfter : 0;
            run(group, Path.of(args[0]), Integer.parseInt(args[1]), args.length > 2 && Boolean.parseBoolean(args[2]));
        } catch (IllegalStateException e) {
            System.out.println("error: " + e.getMessage());
            System.exit(1);
        }
        System.exit(0);
    }

    private static int dying;

    static List<Map<String, Double>> run(ProcessGroup group, Path weights, int accumulation, boolean checkpointing)
            throws Exception {
        try (StepScope scope = StepScope.open()) {
            Decoder policy = DpoTrainerTest.policy();
            DpoConfig config = DpoTrainerTest.fast(1e-3, 4, accumulation, 2).withGradientCheckpointing(checkpointing);
            DpoTrainer trainer = new DpoTrainer(policy, new FrozenReference(policy.frozenCopy()), config, 0, 11);
            if (group != null) {
                trainer.distributed(group);
            }
            trainer.afterStep(step -> {
                if (step == dying) {
                    Runtime.getRuntime().halt(137);  // no shutdown hooks, no goodbye: as SIGKILL
                }
            });
            List<Map<String, Double>> steps = trainer.train(DpoTrainerTest.pairs(12, 5));
            if (group == null || group.rank() == 0) {
                for (int i = 0; i < steps.size(); i++) {
                    System.out.printf("step %d loss %.9g grad_norm %.9g%n", i + 1, steps.get(i).get("loss"),
                            steps.get(i).get("grad_norm"));
                }
                SafetensorsWriter.write(weights, policy.weights(), Map.of());
            }
            trainer.close();
            return steps;
        }
    }
}
