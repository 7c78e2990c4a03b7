package org.driftml.parallel;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Ranks of a test's run as separate JVMs on this host, given torchrun's variables and a master on loopback. */
public final class LocalRanks {
    private LocalRanks() {}

    /** A port free now (the OS's choice). */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Rank {@code rank} of {@code worldSize}: {@code main} with {@code args}, output and errors merged. */
    public static Process start(Class<?> main, int rank, int worldSize, int port, List<String> args)
            throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=error", "-cp",
                System.getProperty("java.class.path"), main.getName()));
        cmd.addAll(args);
        ProcessBuilder b = new ProcessBuilder(cmd).redirectErrorStream(true);
        b.environment().putAll(Map.of("RANK", String.valueOf(rank), "WORLD_SIZE", String.valueOf(worldSize),
                "LOCAL_RANK", String.valueOf(rank), "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", String.valueOf(port)));
        return b.start();
    }

    /** Every rank of {@code worldSize} on a free port. */
    public static List<Process> startAll(Class<?> main, int worldSize, List<String> args) throws IOException {
        int port = freePort();
        List<Process> ranks = new ArrayList<>();
        for (int r = 0; r < worldSize; r++) {
            ranks.add(start(main, r, worldSize, port, args));
        }
        return ranks;
    }
}
