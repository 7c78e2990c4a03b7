package org.driftml.drift;

import java.nio.file.Path;
import java.time.Duration;
import org.driftml.output.Progress;
import org.driftml.parallel.ProcessGroup;
import org.driftml.parallel.WorldEnv;
import org.driftml.train.DpoConfig;

/**
 * One rank of DistributedDriftTest's runs (torchrun's variables; none: one process): the warm start and one DRIFT
 * iteration on the tiny chat Qwen2 and DriftTrainerTest's logs, one item per sampling chunk, DPO batches of 2.
 *
 * <pre>java ... DistributedDriftProbe OUTPUT ZERO_STAGE [chunk|step RANK STAGE N]</pre>
 *
 * <p>With a fault, that rank halts (as a killed process) after chunk N (rank 0 appends chunks) or optimiser step N of
 * the stage; the others then fail, print {@code error: MESSAGE} and exit 1.
 */
public final class DistributedDriftProbe {
    public static void main(String[] args) throws Exception {
        WorldEnv env = WorldEnv.fromEnvironment(System.getenv());
        try (ProcessGroup group = env.worldSize() > 1 ? ProcessGroup.join(env, Duration.ofSeconds(60)) : null) {
            DriftTrainer trainer = trainer();
            if (group != null) {
                trainer.distributed(group, Integer.parseInt(args[1]));
            }
            if (args.length > 2 && Integer.parseInt(args[3]) == env.rank()) {
                String kind = args[2], stage = args[4];
                int n = Integer.parseInt(args[5]);
                trainer.progress(new Progress() {
                    @Override
                    public void chunkDone(String s, int chunk, int chunks) {
                        if (kind.equals("chunk") && s.equals(stage) && chunk == n) {
                            Runtime.getRuntime().halt(137);
                        }
                    }

                    @Override
                    public void stepDone(String s, int step) {
                        if (kind.equals("step") && s.equals(stage) && step == n) {
                            Runtime.getRuntime().halt(137);
                        }
                    }
                });
            }
            trainer.train(DriftTrainerTest.model(), DriftTrainerTest.logs(), Path.of(args[0]));
        } catch (IllegalStateException e) {
            System.out.println("error: " + e.getMessage());
            System.exit(1);
        }
        System.exit(0);
    }

    /** The loop both sides run: one item per chunk, so two ranks sample in rounds; batches of 2 pairs. */
    static DriftTrainer trainer() throws Exception {
        DpoConfig warm = DpoConfig.warmStart().withLearningRate(1e-3).withBatch(2, 1);
        DpoConfig iter = DpoConfig.iteration().withLearningRate(1e-3).withBatch(2, 1);
        DriftConfig config = DriftTrainerTest.config().withIterations(1)
                .withSampling(FeedbackPrompt.Style.TRANSCRIPT, 0.7, 0.9, 6, 1).withDpo(warm, iter);
        return new DriftTrainer(config).progress(Progress.SILENT);
    }
}
