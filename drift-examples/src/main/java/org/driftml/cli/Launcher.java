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
 *
 * <p>The launcher owns its workers. A SIGTERM or SIGINT (Ctrl-C, a scheduler's stop) is passed on to them, and the
 * launcher waits for them before it exits; a launcher killed outright (SIGKILL, which it cannot see) is noticed by
 * the workers themselves ({@link #watchLauncher}), which stop within a second. Either way the output's lock goes with
 * the last of them and the same command resumes. (Before, a killed launcher's workers kept running, held the output
 * and finished the run on their own.)
 */
final class Launcher {
    /** The launcher's pid and start time (ms since the epoch), given to each worker it starts. */
    static final String PID = "DRIFT_LAUNCHER_PID", STARTED = "DRIFT_LAUNCHER_STARTED";
    /** How long a signalled launcher waits for its workers to stop before it kills them. */
    private static final long STOP_WAIT_SECONDS = 20;

    private Launcher() {}

    /**
     * In a worker this launcher started: a daemon thread that halts the worker within a second of the launcher's
     * death (its pid gone, or taken by a process that started at another time). Halting is a kill: every write that
     * matters is atomic and every kill point resumes byte for byte, and a halt cannot hang on a peer that is gone.
     */
    static void watchLauncher(String command) {
        String pid = System.getenv(PID), started = System.getenv(STARTED);
        if (pid == null || started == null) {
            return;
        }
        long launcher = Long.parseLong(pid), at = Long.parseLong(started);
        Thread t = new Thread(() -> {
            while (true) {
                boolean alive = ProcessHandle.of(launcher).filter(ProcessHandle::isAlive)
                        .flatMap(h -> h.info().startInstant()).map(i -> i.toEpochMilli() == at).orElse(false);
                if (!alive) {
                    System.err.printf("drift %s: rank %s: the launcher (pid %d) is gone; stopping (rerun the command "
                            + "to resume)%n", command, System.getenv("RANK"), launcher);
                    System.err.flush();
                    Runtime.getRuntime().halt(143);
                }
                try {
                    Thread.sleep(250);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "drift-launcher-watch");
        t.setDaemon(true);
        t.start();
    }

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
        List<Process> workers = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Thread> pumps = new ArrayList<>();
        ProcessHandle me = ProcessHandle.current();
        long started = me.info().startInstant().orElseThrow().toEpochMilli();
        // A signal to the launcher is passed on: the workers stop (SIGTERM) and it waits for them before it exits.
        Thread stop = new Thread(() -> {
            if (workers.stream().anyMatch(Process::isAlive)) {
                err.printf("drift %s: stopped by a signal; stopping the workers (rerun the same command to resume)%n",
                        command);
                err.flush();
                stopAll(workers);
            }
        }, "drift-launcher-stop");
        Runtime.getRuntime().addShutdownHook(stop);
        for (int r = 0; r < n; r++) {
            ProcessBuilder b = new ProcessBuilder(cmd);
            b.environment().putAll(Map.of("RANK", String.valueOf(r), "WORLD_SIZE", String.valueOf(n), "LOCAL_RANK",
                    String.valueOf(r), "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", String.valueOf(port), PID,
                    String.valueOf(me.pid()), STARTED, String.valueOf(started)));
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
        try {
            Runtime.getRuntime().removeShutdownHook(stop);
        } catch (IllegalStateException shuttingDown) {  // the hook is running: it stops the workers
        }
        return code;
    }

    /** SIGTERM to each worker, a wait, then SIGKILL to any still running. */
    private static void stopAll(List<Process> workers) {
        workers.forEach(Process::destroy);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(STOP_WAIT_SECONDS);
        for (Process p : workers) {
            try {
                if (!p.waitFor(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
            }
        }
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
