package org.driftml.parallel;

import java.time.Duration;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * One rank of ProcessGroupTest's runs, from torchrun's variables: joins (timeout in seconds as the argument),
 * all-reduces 1,000 normal draws seeded by its rank, prints {@code rank R sum S first F}, then reduce-scatters and
 * all-gathers them in bf16 and prints {@code rank R slice S gathered G} (the sums of its slice and of the gathered
 * tensor), and exits 0; on an error it prints the message and exits 1.
 */
public final class AllreduceProbe {
    public static void main(String[] args) {
        try {
            WorldEnv env = WorldEnv.fromEnvironment(System.getenv());
            try (ProcessGroup group = ProcessGroup.join(env, Duration.ofSeconds(Long.parseLong(args[0])))) {
                Tensor t = draws(env.rank());
                group.allreduceSum(t);
                System.out.printf("rank %d sum %.9g first %.9g%n", env.rank(), t.sum().item_double(),
                        t.get(0).item_double());
                // ZeRO's two collectives, in bf16 as its gradients and weights are
                Tensor bf = draws(env.rank()).to(ScalarType.BFloat16);
                Tensor slice = torch.zeros(new long[] {1000 / env.worldSize()}, new TensorOptions(ScalarType.BFloat16));
                group.reduceScatterSum(slice, bf);
                Tensor all = torch.zeros(new long[] {1000 * env.worldSize()}, new TensorOptions(ScalarType.BFloat16));
                group.allGather(all, bf);
                group.barrier();
                System.out.printf("rank %d slice %.9g gathered %.9g%n", env.rank(),
                        slice.to(ScalarType.Double).sum().item_double(), all.to(ScalarType.Double).sum().item_double());
            }
            System.exit(0);
        } catch (RuntimeException e) {
            System.out.println("error: " + e.getMessage());
            System.exit(1);
        }
    }

    /** Rank r's contribution: 1,000 standard normal draws from a generator seeded r. */
    static Tensor draws(int rank) {
        torch.manual_seed(rank);
        return torch.randn(1000);
    }
}
