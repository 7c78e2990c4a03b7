package org.driftml.parallel;

import java.time.Duration;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllgatherOptions;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.BarrierOptions;
import org.bytedeco.pytorch.GlooDeviceVector;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.ReduceScatterOptions;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.nccl.ProcessGroupNCCL;
import org.driftml.kernels.NativeRuntime;

/**
 * The processes of one run, joined through PyTorch's own distributed engine (c10d): a {@code TCPStore} on rank 0's
 * host for the rendezvous and a Gloo (or NCCL) process group for the collectives, as {@code
 * torch.distributed.init_process_group("gloo")} sets them up. Every collective waits at most the timeout given at
 * join; a rank that died or never came makes the others fail with an error instead of hanging.
 */
public final class ProcessGroup implements AutoCloseable {
    /** c10d's collective backends: Gloo for tensors on the CPU, NCCL for tensors on CUDA devices (GPU build). */
    public enum Backend { GLOO, NCCL }

    private final WorldEnv env;
    private final TCPStore store;
    private final org.bytedeco.pytorch.Backend collectives;  // Gloo's or NCCL's: one code path over either
    private final Duration timeout;
    private final java.util.List<String> peers;  // "rank R (address)" of every other rank, for failure messages

    private ProcessGroup(WorldEnv env, TCPStore store, org.bytedeco.pytorch.Backend collectives, Duration timeout,
            String address) {
        this.env = env;
        this.store = store;
        this.collectives = collectives;
        this.timeout = timeout;
        this.peers = peers(env, store, address);
    }

    /**
     * Each rank's address, through the store: a collective that times out cannot say which peer went silent (Gloo
     * reports "Operation timed out!"), so the message names the ranks it was waiting on and where they run. Every
     * rank publishes its own, then reads the others' (one key each, at join only).
     */
    private static java.util.List<String> peers(WorldEnv env, TCPStore store, String address) {
        store.set("drift/address/" + env.rank(), address);
        java.util.List<String> out = new java.util.ArrayList<>();
        for (int r = 0; r < env.worldSize(); r++) {
            if (r != env.rank()) {
                out.add("rank " + r + " at " + store.get_to_str("drift/address/" + r));
            }
        }
        return java.util.List.copyOf(out);
    }

    /** Where this rank runs: the address (and interface) its Gloo collectives listen on and the host's name. */
    private static String address(GlooDeviceVector devices) {
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            host = "unknown host";
        }
        if (devices == null) {
            return host;
        }
        java.util.List<String> listening = new java.util.ArrayList<>();
        for (org.bytedeco.pytorch.gloo.Device d : devices.get()) {
            // Gloo's description: "tcp, pci=, iface=eth0, speed=10000, addr=[10.0.0.2]"
            String described = d.str().getString();
            java.util.regex.Matcher addr = java.util.regex.Pattern.compile("addr=\\[([^\\]]*)]").matcher(described);
            java.util.regex.Matcher iface = java.util.regex.Pattern.compile("iface=([^,]+)").matcher(described);
            listening.add(addr.find() ? addr.group(1) + (iface.find() ? " (" + iface.group(1) + ")" : "")
                    : described);
        }
        return String.join(", ", listening) + " on host " + host;
    }

    /** As {@link #join(WorldEnv, Duration, Backend)} with Gloo. */
    public static ProcessGroup join(WorldEnv env, Duration timeout) {
        return join(env, timeout, Backend.GLOO);
    }

    /**
     * Joins the run {@code env} describes: rank 0 opens the store at MASTER_ADDR:MASTER_PORT and every rank waits
     * there for the others, at most {@code timeout}; the collectives then run on {@code backend} (NCCL: each rank's
     * tensors on its own CUDA device, which needs the GPU build's natives).
     *
     * @throws IllegalStateException naming the address when the store cannot be opened or reached, or not every
     *                               rank arrived in time
     */
    public static ProcessGroup join(WorldEnv env, Duration timeout, Backend backend) {
        NativeRuntime.load();
        Milliseconds ms = new Milliseconds(timeout.toMillis());
        // Before the rendezvous: an interface this host lacks is named at once, not after the others have waited.
        GlooDeviceVector devices = backend == Backend.GLOO ? glooDevices(env) : null;
        TCPStore store;
        try {
            TCPStoreOptions o = new TCPStoreOptions();
            o.port((short) env.masterPort());
            o.isServer(env.rank() == 0);
            o.numWorkers(new SizeTPointer(1).put(env.worldSize()));
            o.waitWorkers(true);
            o.timeout(ms);
            store = new TCPStore(env.masterAddr(), o);
        } catch (RuntimeException e) {
            // Rank 0 opens the store and waits for every rank; the others connect to it. The cause says which
            // failed: a port in use, an unreachable master, ranks that did not come.
            throw new IllegalStateException("rank " + env.rank() + ": the rendezvous at " + env.masterAddr() + ":"
                    + env.masterPort() + " (MASTER_ADDR:MASTER_PORT) failed within " + timeout.toSeconds() + " s: "
                    + firstLine(e), e);
        }
        if (backend == Backend.NCCL) {
            try {
                // NCCL's own timeout is its watchdog's (TORCH_NCCL_* variables); every wait here is bounded by ours.
                return new ProcessGroup(env, store, new ProcessGroupNCCL(store, env.rank(), env.worldSize()), timeout,
                        address(null));
            } catch (RuntimeException | UnsatisfiedLinkError e) {
                throw new IllegalStateException("rank " + env.rank() + ": the NCCL process group of "
                        + env.worldSize() + " ranks did not form (NCCL needs the GPU build, -Pgpu, and a CUDA device "
                        + "per rank): " + firstLine(e), e);
            }
        }
        ProcessGroupGloo.Options options = ProcessGroupGloo.Options.create(ms);
        options.devices(devices);
        try {
            return new ProcessGroup(env, store, new ProcessGroupGloo(store, env.rank(), env.worldSize(), options),
                    timeout, address(devices));
        } catch (RuntimeException e) {
            throw new IllegalStateException("rank " + env.rank() + ": the Gloo process group of " + env.worldSize()
                    + " ranks did not form within " + timeout.toSeconds() + " s: " + firstLine(e), e);
        }
    }

    /**
     * Where Gloo's collectives listen: the interfaces GLOO_SOCKET_IFNAME names (as torch.distributed reads it); else,
     * for one host (a loopback master), loopback; else Gloo's default, the address this host's name resolves to
     * (which falls back to loopback when the name resolves to no local address: in a container or a network namespace
     * the interface must then be named).
     */
    private static GlooDeviceVector glooDevices(WorldEnv env) {
        if (!env.socketInterfaces().isEmpty()) {
            GlooDeviceVector devices = new GlooDeviceVector();
            for (String name : env.socketInterfaces()) {
                try {
                    devices.push_back(ProcessGroupGloo.createDeviceForInterface(name));
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException("GLOO_SOCKET_IFNAME: rank " + env.rank() + " cannot use "
                            + "network interface " + name + ": " + firstLine(e), e);
                }
            }
            return devices;
        }
        boolean local = env.masterAddr().startsWith("127.") || env.masterAddr().equals("localhost");
        return new GlooDeviceVector(local ? ProcessGroupGloo.createDeviceForHostname("127.0.0.1")
                : ProcessGroupGloo.createDefaultDevice());
    }

    public WorldEnv env() {
        return env;
    }

    public int rank() {
        return env.rank();
    }

    public int worldSize() {
        return env.worldSize();
    }

    /**
     * Sums {@code t} over every rank, in place (each rank ends with the same sum).
     *
     * @throws IllegalStateException naming this rank when a peer is gone or the timeout passes
     */
    public void allreduceSum(Tensor t) {
        await(collectives.allreduce(new TensorVector(t), new AllreduceOptions()), "all-reduce");
    }

    /**
     * Starts summing {@code t} over every rank, in place, and returns at once: the sum runs on the backend's own
     * threads while this one computes (a layer's gradients while the backward goes on below it).
     * {@link Pending#await} waits for it.
     */
    public Pending allreduceSumStart(Tensor t) {
        return pending(collectives.allreduce(new TensorVector(t), new AllreduceOptions()), "all-reduce");
    }

    /** As {@link #reduceScatterSum}, started: {@link Pending#await} waits for it. */
    public Pending reduceScatterSumStart(Tensor out, Tensor in) {
        return pending(collectives._reduce_scatter_base(out, in, new ReduceScatterOptions()), "reduce-scatter");
    }

    private Pending pending(Work w, String what) {
        // Started inside a step's native-memory scope (a layer's backward), the handle would be freed when that
        // scope closes, before anyone waits on it: the Pending owns it until await().
        PointerScope inner = PointerScope.getInnerScope();
        if (inner != null) {
            w.retainReference();
            inner.detach(w);
        }
        return new Pending(w, what);
    }

    /** A collective in flight. */
    public final class Pending {
        private final Work work;
        private final String what;

        private Pending(Work work, String what) {
            this.work = work;
            this.what = what;
        }

        /**
         * Waits until it is done on this rank.
         *
         * @throws IllegalStateException naming this rank when a peer is gone or the timeout passes
         */
        public void await() {
            try {
                ProcessGroup.this.await(work, what);
            } finally {
                work.close();
            }
        }
    }

    /**
     * Sums {@code in} over every rank and leaves this rank's slice of the sum in {@code out} ({@code in} holds
     * world-size slices of {@code out}'s length, rank r's at r times that length): ZeRO's gradient reduce-scatter.
     *
     * @throws IllegalStateException naming this rank when a peer is gone or the timeout passes
     */
    public void reduceScatterSum(Tensor out, Tensor in) {
        reduceScatterSumStart(out, in).await();
    }

    /**
     * Concatenates every rank's {@code in} into {@code out}, rank r's at r times its length: ZeRO's all-gather of
     * the updated weights.
     *
     * @throws IllegalStateException naming this rank when a peer is gone or the timeout passes
     */
    public void allGather(Tensor out, Tensor in) {
        await(collectives._allgather_base(out, in, new AllgatherOptions()), "all-gather");
    }

    /** Waits until every rank has come here (a checkpoint's ranks have all written their shards, say). */
    public void barrier() {
        await(collectives.barrier(new BarrierOptions()), "barrier");
    }

    private void await(Work w, String what) {
        try {
            if (!w._wait(new Milliseconds(timeout.toMillis()))) {
                throw new IllegalStateException("rank " + env.rank() + ": " + what + " did not finish within "
                        + timeout.toSeconds() + " s, " + waitingOn());
            }
        } catch (RuntimeException e) {
            if (e instanceof IllegalStateException) {
                throw e;
            }
            throw new IllegalStateException("rank " + env.rank() + ": " + what + " failed (" + firstLine(e) + "), "
                    + waitingOn(), e);
        }
    }

    /** The peers a failed collective waited on: the other rank, or the first few of the others. */
    private String waitingOn() {
        String named = peers.size() <= 4 ? String.join(", ", peers)
                : String.join(", ", peers.subList(0, 4)) + " and " + (peers.size() - 4) + " more";
        return "waiting on " + named + ": a peer stopped or the network to it failed";
    }

    /** The cause's first line, without the source path c10d and Gloo put in front ("[/.../pair.cc:553] "). */
    private static String firstLine(Throwable e) {
        String m = String.valueOf(e.getMessage()).replaceAll("\\[/[^\\]]*] ", "");
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    @Override
    public void close() {
        collectives.close();
        store.close();
    }
}
