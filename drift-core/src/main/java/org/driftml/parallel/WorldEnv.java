package org.driftml.parallel;

import java.util.Map;

/**
 * Where this process sits among the processes of one run, as torchrun describes it in the environment: {@code RANK},
 * {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code MASTER_ADDR}, {@code MASTER_PORT}. A scheduler that starts one process
 * per device (torchrun itself, SLURM, Kubernetes) sets these; without them a process is alone (rank 0 of 1).
 *
 * @param rank       this process's place, 0 .. worldSize - 1
 * @param worldSize  how many processes take part
 * @param localRank  its place on this host (which device it binds)
 * @param masterAddr the host of rank 0, where the rendezvous store listens
 * @param masterPort the store's TCP port
 * @param socketInterfaces the network interfaces Gloo's collectives use ({@code GLOO_SOCKET_IFNAME}, comma-separated,
 *                   as torch reads it); empty: the address this host's name resolves to, or loopback for a loopback
 *                   MASTER_ADDR
 */
public record WorldEnv(int rank, int worldSize, int localRank, String masterAddr, int masterPort,
        java.util.List<String> socketInterfaces) {
    public WorldEnv(int rank, int worldSize, int localRank, String masterAddr, int masterPort) {
        this(rank, worldSize, localRank, masterAddr, masterPort, java.util.List.of());
    }

    /** Validates every field, naming the environment variable it comes from. */
    public WorldEnv {
        if (worldSize < 1) {
            throw new IllegalArgumentException("WORLD_SIZE must be at least 1, got " + worldSize);
        }
        if (rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("RANK must be in [0, WORLD_SIZE " + worldSize + "), got " + rank);
        }
        if (localRank < 0 || localRank > rank) {
            throw new IllegalArgumentException("LOCAL_RANK must be in [0, RANK " + rank + "], got " + localRank);
        }
        if (masterAddr == null || masterAddr.isBlank()) {
            throw new IllegalArgumentException("MASTER_ADDR must name rank 0's host");
        }
        if (masterPort < 1 || masterPort > 65535) {
            throw new IllegalArgumentException("MASTER_PORT must be a TCP port (1-65535), got " + masterPort);
        }
        socketInterfaces = java.util.List.copyOf(socketInterfaces);
        for (String name : socketInterfaces) {
            if (name.isBlank() || !name.matches("[A-Za-z0-9_.:@-]{1,15}")) {
                throw new IllegalArgumentException("GLOO_SOCKET_IFNAME must name network interfaces (eth0, or "
                        + "eth0,eth1), got '" + name + "'");
            }
        }
    }

    /** One process on its own. */
    public static WorldEnv single() {
        return new WorldEnv(0, 1, 0, "127.0.0.1", 29500);
    }

    /**
     * From torchrun's variables in {@code env} (pass {@code System.getenv()}); {@link #single()} when neither
     * {@code RANK} nor {@code WORLD_SIZE} is set. MASTER_ADDR defaults to 127.0.0.1 and MASTER_PORT to 29500, as
     * torchrun's; LOCAL_RANK to RANK (one host). GLOO_SOCKET_IFNAME picks the interfaces the collectives use.
     *
     * @throws IllegalArgumentException naming the variable when one is set to something unusable, or only one of
     *                                  RANK and WORLD_SIZE is set
     */
    public static WorldEnv fromEnvironment(Map<String, String> env) {
        String rank = env.get("RANK"), size = env.get("WORLD_SIZE");
        if (rank == null && size == null) {
            return single();
        }
        if (rank == null || size == null) {
            throw new IllegalArgumentException((rank == null ? "RANK" : "WORLD_SIZE") + " is not set, but "
                    + (rank == null ? "WORLD_SIZE" : "RANK") + " is: set both (torchrun does) or neither");
        }
        int r = integer(env, "RANK", rank);
        return new WorldEnv(r, integer(env, "WORLD_SIZE", size),
                env.containsKey("LOCAL_RANK") ? integer(env, "LOCAL_RANK", env.get("LOCAL_RANK")) : r,
                env.getOrDefault("MASTER_ADDR", "127.0.0.1"),
                env.containsKey("MASTER_PORT") ? integer(env, "MASTER_PORT", env.get("MASTER_PORT")) : 29500,
                env.containsKey("GLOO_SOCKET_IFNAME") ? java.util.List.of(env.get("GLOO_SOCKET_IFNAME").split(",", -1))
                        : java.util.List.of());
    }

    private static int integer(Map<String, String> env, String name, String value) {
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be an integer, got '" + value + "'");
        }
    }
}
