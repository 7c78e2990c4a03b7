package org.driftml.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code --nproc-per-node N}, as torchrun starts a run on one host: N worker JVMs of the same command, each given
 * torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR 127.0.0.1, MASTER_PORT a free port). Rank 0's
 * output is the command's; the others' standard error comes through prefixed with their rank. When a worker fails,
 * the others are stopped and its exit code is the launcher's.
 */
final class Launcher {
    private Launcher() {}

    /** Whether this process is a worker torchrun (or this launcher) started. */
    static boolean isWorker() {
        return System.getenv("RANK") != null || System.getenv("WORLD_SIZE") != null;
    }

    /**
     * Runs {@code drift ARGS} in {@code n} workers and waits for them.
     *
     * @param command the command's name, for messages
     * @param args    the whole command line as given, without {@code --nproc-per-node}
     * @return the first failing worker's exit code, or 0
     */
    static int run(int n, String command, List<String> args, PrintWriter out, PrintWriter err) throws IOException,
            InterruptedException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());  // the same heap and collector
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Drift.class.getName()));
        cmd.addAll(args);
        List<Process> workers = new ArrayList<>();
        List<Thread> pumps = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            ProcessBuilder b = new ProcessBuilder(cmd);
            b.environment().putAll(Map.of("RANK", String.valueOf(r), "WORLD_SIZE", String.valueOf(n), "LOCAL_RANK",
                    String.valueOf(r), "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", String.valueOf(port)));
            Process p = b.start();
            workers.add(p);
            pumps.add(pump(p.getInputStream(), r == 0 ? out : null, ""));
            pumps.add(pump(p.getErrorStream(), err, r == 0 ? "" : "[rank " + r + "] "));
        }
        int code = 0;
        boolean[] done = new boolean[n];
        for (int left = n; left > 0;) {
            for (int r = 0; r < n; r++) {
                if (!done[r] && workers.get(r).waitFor(100, TimeUnit.MILLISECONDS)) {
                    done[r] = true;
                    left--;
                    int rc = workers.get(r).exitValue();
                    if (rc != 0 && code == 0) {
                        code = rc;
                        err.printf("drift %s: rank %d exited with %d; stopping the others%n", command, r, rc);
                        err.flush();
                        workers.forEach(Process::destroy);
                    }
                }
            }
        }
        for (Thread t : pumps) {
            t.join();
        }
        return code;
    }

    /** Copies a worker's stream to {@code to} (null: discard), each line prefixed. */
    private static Thread pump(InputStream in, PrintWriter to, String prefix) {
        Thread t = new Thread(() -> {
            try (var reader = new java.io.BufferedReader(new java.io.InputStreamReader(in,
                    java.nio.charset.StandardCharsets.UTF_8))) {
                for (String line; (line = reader.readLine()) != null;) {
                    if (to != null) {
                        synchronized (to) {
                            to.println(prefix + line);
                            to.flush();
                        }
                    }
                }
            } catch (IOException e) {
                // the worker went away: nothing more to copy
            }
        });
        t.start();
        return t;
    }
}
