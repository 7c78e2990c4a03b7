package org.driftml.cli;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.parallel.ProcessGroup;
import org.driftml.parallel.WorldEnv;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * {@code --nproc-per-node}, {@code --zero} and {@code --dist-timeout}, shared by the commands that train (dpo,
 * warmstart, train): how many processes, how their optimiser is sharded, how long they wait for one another.
 */
final class WorkerOptions {
    @Option(names = "--nproc-per-node", defaultValue = "1", paramLabel = "N",
            description = {"Data parallel on this host, as torchrun: N worker processes, each with its share of every",
                    "batch (a worker started by torchrun or a scheduler reads RANK, WORLD_SIZE, MASTER_ADDR, ...)"})
    int nprocPerNode = 1;

    @Option(names = "--zero", defaultValue = "0", paramLabel = "STAGE",
            description = {"With several processes, shard the optimiser as ZeRO: 0 every process holds all of it,",
                    "1 each holds 1/N of the fp32 masters and RMSprop state, 2 also 1/N of the gradients (default:",
                    "${DEFAULT-VALUE}; not with LoRA)"})
    int zero;

    @Option(names = "--dist-timeout", defaultValue = "300", paramLabel = "SECONDS",
            description = "With several processes: how long to wait for the others (rendezvous, every collective)"
                    + " before failing (default: ${DEFAULT-VALUE})")
    int distTimeout = 300;

    /** The most workers --nproc-per-node starts on GPUs: one per device, and no host has more than this. */
    static final int MAX_GPU_WORKERS = 16;

    /**
     * This process's place in the run (torchrun's variables; none: the only process), checked with the options and
     * the device the workers would compute on.
     *
     * @throws IllegalArgumentException naming the option or variable
     */
    WorldEnv world(boolean lora, ComputeDevice on) {
        // Our own workers never see the option (the launcher drops it); with torchrun's variables set too, this
        // process would wait as one of torchrun's workers for peers that never come.
        if (nprocPerNode > 1 && (System.getenv("WORLD_SIZE") != null || System.getenv("RANK") != null)) {
            throw new IllegalArgumentException("--nproc-per-node " + nprocPerNode + " starts its own workers, but "
                    + "the environment already sets " + (System.getenv("WORLD_SIZE") != null ? "WORLD_SIZE="
                    + System.getenv("WORLD_SIZE") : "RANK=" + System.getenv("RANK")) + " (torchrun's variables): "
                    + "unset WORLD_SIZE and RANK, or drop --nproc-per-node under torchrun");
        }
        WorldEnv world = WorldEnv.fromEnvironment(System.getenv());
        if ((nprocPerNode > 1 || world.worldSize() > 1) && on.kind() == ComputeDevice.Kind.TEST) {
            throw new IllegalArgumentException("--device " + on + ": several processes need cpu (Gloo) or cuda "
                    + "(NCCL) tensors");
        }
        if (nprocPerNode < 1) {
            throw new IllegalArgumentException("--nproc-per-node must be at least 1, got " + nprocPerNode);
        }
        checkCount(on.kind() == ComputeDevice.Kind.CUDA);
        if (distTimeout < 1) {
            throw new IllegalArgumentException("--dist-timeout must be at least 1 second, got " + distTimeout);
        }
        if (zero < 0 || zero > 2) {
            throw new IllegalArgumentException("--zero must be 0, 1 or 2, got " + zero);
        }
        if (zero > 0 && lora) {
            throw new IllegalArgumentException("--zero " + zero + " with LoRA: the adapters' optimiser state is "
                    + "small; train them with --zero 0");
        }
        return world;
    }

    /**
     * Refuses more workers than this machine runs (checked when the run starts here, not for --print-config, whose
     * settings may be meant for another machine): each is a whole JVM with its own copy of the model, so on the CPU
     * more of them than cores only divides the same cores, and on GPUs there is one per device. (Unbounded, 10,000
     * was accepted and started.)
     */
    void checkCount(boolean gpu) {
        int most = gpu ? MAX_GPU_WORKERS : Runtime.getRuntime().availableProcessors();
        if (nprocPerNode > most) {
            throw new IllegalArgumentException("--nproc-per-node " + nprocPerNode + " is more than "
                    + (gpu ? MAX_GPU_WORKERS + " (one worker per GPU)"
                    : "this machine's " + most + " cores (each worker is a JVM with its own copy of the model)"));
        }
    }

    /** How many data-parallel processes the run has, and what said so. */
    record Processes(int count, String source) {}

    /** How many processes the run has: {@code --nproc-per-node}, else torchrun's WORLD_SIZE, else one. */
    Processes processes() {
        if (nprocPerNode > 1) {
            return new Processes(nprocPerNode, "option");
        }
        int world = WorldEnv.fromEnvironment(System.getenv()).worldSize();
        return world > 1 ? new Processes(world, "env:WORLD_SIZE") : new Processes(1, "default");
    }

    /**
     * Refuses a batch that does not split into equal micro-batches: each process's micro-batch is batch_size /
     * (processes x gradient_accumulation), TRL's per_device_train_batch_size.
     *
     * @throws IllegalArgumentException naming the options
     */
    void checkSplit(org.driftml.train.DpoConfig dpo) {
        Processes p = processes();
        try {
            dpo.microBatch(p.count());
        } catch (org.driftml.settings.InvalidSettingException e) {
            int split = p.count() * dpo.accumulation();
            String processes = p.source().equals("option") ? "--nproc-per-node " + p.count()
                    : p.source().equals("env:WORLD_SIZE") ? "WORLD_SIZE " + p.count() : "1 process";
            throw new IllegalArgumentException("--batch-size " + dpo.batchSize() + " does not split evenly into "
                    + processes + " x --gradient-accumulation " + dpo.accumulation() + " = " + split
                    + " micro-batches (pairs per optimiser step over all processes): give a multiple of " + split);
        }
    }

    /** Whether this process should start the workers instead of training: N > 1 and not a worker itself. */
    boolean launches() {
        return nprocPerNode > 1 && !Launcher.isWorker();
    }

    /** Starts the workers: this command line, without --nproc-per-node, in each. */
    int launch(CommandLine.Model.CommandSpec spec, String command, java.io.PrintWriter err) throws Exception {
        List<String> all = spec.commandLine().getParseResult().originalArgs();
        List<String> args = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            String a = all.get(i);
            if (a.equals("--nproc-per-node")) {
                i++;
            } else if (!a.startsWith("--nproc-per-node=")) {
                args.add(a);
            }
        }
        return Launcher.run(nprocPerNode, command, args, spec.commandLine().getOut(), err);
    }

    /**
     * Joins the run's process group over Gloo, or NCCL when the workers compute on CUDA devices. LibTorch's own log
     * stays quiet unless {@code --verbose}: a failed rendezvous is drift's one line, not c10d's native stacks first.
     */
    ProcessGroup join(WorldEnv world, ComputeDevice on, CommandLine.Model.CommandSpec spec) {
        org.driftml.kernels.NativeRuntime.quietNativeLog(!Failures.verbose(spec));
        // One code path for both: c10d's Gloo for CPU tensors, NCCL for CUDA ones.
        ProcessGroup.Backend backend = on.kind() == ComputeDevice.Kind.CUDA ? ProcessGroup.Backend.NCCL
                : ProcessGroup.Backend.GLOO;
        return ProcessGroup.join(world, Duration.ofSeconds(distTimeout), backend);
    }

    /** The ZeRO stage a run of {@code group} uses (none for one process). */
    int zeroStage(ProcessGroup group) {
        return group == null ? 0 : zero;
    }
}
