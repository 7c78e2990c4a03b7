package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two hosts on a real network (issue 32): two network namespaces, each with its own network stack, joined by a veth
 * pair; rank 0 in one, rank 1 in the other, MASTER_ADDR rank 0's veth address and GLOO_SOCKET_IFNAME each host's
 * interface, so every byte of the rendezvous and the collectives crosses an interface that can be taken down. The
 * folder is shared as a cluster's shared filesystem would be. Needs root (CAP_NET_ADMIN) and iproute2; where
 * namespaces cannot be made the test says so and why (the README says where it ran); on CI (CI set) that fails it.
 */
class TwoHostTest {
    private static final int TIMEOUT_S = 15;  // --dist-timeout: a loaded 2-core machine starts two JVMs within it

    @Test
    void twoHostsTrainAsOneProcessFailOnALostLinkAndResumeByteForByte(@TempDir Path dir) throws Exception {
        try (Hosts hosts = Hosts.make()) {
            Path pairs = dir.resolve("pairs.jsonl");
            Files.write(pairs, List.of(DpoCommandTest.pair("2+2?", "4", "5"), DpoCommandTest.pair("3*3?", "9", "6"),
                    DpoCommandTest.pair("Sky?", "Blue", "Green"), DpoCommandTest.pair("Capital of France?", "Paris",
                            "Lyon")));
            // 40 steps of 2 pairs (one per rank), a checkpoint every 10.
            List<String> common = List.of("dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs",
                    pairs.toString(), "--learning-rate", "1e-3", "--batch-size", "2", "--epochs", "20",
                    "--rpo-alpha", "0", "--save-steps", "10", "--dist-timeout", String.valueOf(TIMEOUT_S));

            // One process, then the two hosts: the same losses and weights within one process's own order noise,
            // measured as the difference one process makes when it sums the same batches in micro-batches of one pair
            // (--gradient-accumulation 2: the split the two ranks make). Measured: 1.5e-6 in the loss, 9.5e-7 in the
            // weights after 40 steps, and the two hosts equal to the accumulating process (difference 0).
            CliRun one = CliRun.of("", with(common, "--output", dir.resolve("one").toString()));
            assertEquals(0, one.code(), one.err());
            CliRun order = CliRun.of("", with(common, "--output", dir.resolve("order").toString(),
                    "--gradient-accumulation", "2"));
            assertEquals(0, order.code(), order.err());
            double[] noise = difference(dir.resolve("one"), dir.resolve("order"));
            Path two = dir.resolve("two");
            List<Ran> full = hosts.run(with(common, "--output", two.toString()), null);
            for (Ran r : full) {
                assertEquals(0, r.code(), r.log());
            }
            assertTrue(full.get(0).log().contains("trained 40 steps"), full.get(0).log());
            double[] hosts2 = difference(dir.resolve("one"), two), split = difference(dir.resolve("order"), two);
            for (int i = 0; i < 2; i++) {
                String what = i == 0 ? "loss" : "weight";
                assertTrue(hosts2[i] <= 2 * noise[i] + 1e-7, what + ": " + hosts2[i] + " against noise " + noise[i]);
                assertTrue(split[i] <= 1e-7, what + ": two hosts against one process's same split: " + split[i]);
            }

            // The link goes down mid-run, right after checkpoint-20: both ranks stop within the timeout, each
            // naming the peer it was waiting on and where that peer runs.
            Path cut = dir.resolve("cut");
            List<Ran> failed = hosts.run(with(common, "--output", cut.toString()), cut.resolve(
                    "checkpoint-20/trainer_state.json"));
            for (int rank = 0; rank < 2; rank++) {
                Ran r = failed.get(rank);
                System.out.printf("rank %d after the link went down: exit %d in %.1f s: %s%n", rank, r.code(),
                        r.secondsAfterCut(), r.lastLine());
                assertEquals(1, r.code(), r.log());
                assertTrue(r.secondsAfterCut() <= TIMEOUT_S + 15, r.secondsAfterCut() + " s");
                String peer = "rank " + (1 - rank) + " at " + hosts.address(1 - rank) + " (" + hosts.veth(1 - rank)
                        + ")";
                assertTrue(r.lastLine().startsWith("drift dpo: rank " + rank + ": ") && r.lastLine().contains(
                        "waiting on " + peer), r.log());
                assertEquals(1, r.log().lines().filter(l -> l.startsWith("drift dpo: rank")).count(), r.log());
            }

            // The link back up, the same command with --resume: the uninterrupted run's model, byte for byte.
            hosts.linkUp();
            List<Ran> resumed = hosts.run(with(common, "--output", cut.toString(), "--resume"), null);
            for (Ran r : resumed) {
                assertEquals(0, r.code(), r.log());
            }
            assertTrue(resumed.get(0).log().contains("resuming from " + cut.resolve("checkpoint-")), resumed.get(0)
                    .log());
            assertArrayEquals(Files.readAllBytes(two.resolve("model.safetensors")),
                    Files.readAllBytes(cut.resolve("model.safetensors")), "the resumed model is the uninterrupted one");
        }
    }

    private static String[] with(List<String> common, String... more) {
        List<String> all = new ArrayList<>(common);
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    private static double[] difference(Path one, Path two) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<String> a = Files.readAllLines(one.resolve("metrics.jsonl")), b = Files.readAllLines(two.resolve(
                "metrics.jsonl"));
        assertEquals(a.size(), b.size());
        double loss = 0;
        for (int i = 0; i < a.size(); i++) {
            loss = Math.max(loss, Math.abs(json.readTree(a.get(i)).get("loss").asDouble()
                    - json.readTree(b.get(i)).get("loss").asDouble()));
        }
        double worst = 0;
        try (StepScope scope = StepScope.open()) {
            SafetensorsFile x = SafetensorsFile.open(one.resolve("model.safetensors"));
            SafetensorsFile y = SafetensorsFile.open(two.resolve("model.safetensors"));
            for (String name : x.tensors().keySet()) {
                worst = Math.max(worst, x.read(name).sub(y.read(name)).abs().max().item_double());
            }
        }
        System.out.printf("%s against %s: max |loss difference| %.3g, max |weight difference| %.3g%n", two, one, loss,
                worst);
        return new double[] {loss, worst};
    }

    /** A rank's exit, what it printed, and how long after the link went down it ended (NaN: never cut). */
    private record Ran(int code, String log, double secondsAfterCut) {
        String lastLine() {
            List<String> lines = log.strip().lines().toList();
            return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
        }
    }

    /** Two network namespaces joined by a veth pair, removed on close. */
    private static final class Hosts implements AutoCloseable {
        private final String[] ns;
        private final String[] veth;
        private final String[] address;
        private final int port;

        private Hosts(String tag, int subnet, int port) {
            this.ns = new String[] {"drift-" + tag + "-0", "drift-" + tag + "-1"};
            this.veth = new String[] {"dv" + tag + "a", "dv" + tag + "b"};
            this.address = new String[] {"10.231." + subnet + ".1", "10.231." + subnet + ".2"};
            this.port = port;
        }

        static Hosts make() throws Exception {
            long pid = ProcessHandle.current().pid();
            String tag = Long.toString(pid % 100000);
            Hosts h = new Hosts(tag, (int) (pid % 250) + 1, 29400 + (int) (pid % 500));
            String refused = ip("netns", "add", h.ns[0]);
            // Never skipped: CI runs as root with iproute2 (.ci/run installs it), and a machine that cannot make
            // namespaces is told what the test needs rather than passing it by.
            assertTrue(refused == null, "TwoHostTest needs network namespaces (root or CAP_NET_ADMIN, and iproute2's "
                    + "ip): " + refused);
            try {
                h.must("netns", "add", h.ns[1]);
                h.must("link", "add", h.veth[0], "type", "veth", "peer", "name", h.veth[1]);
                for (int i = 0; i < 2; i++) {
                    h.must("link", "set", h.veth[i], "netns", h.ns[i]);
                    h.must("-n", h.ns[i], "addr", "add", h.address[i] + "/24", "dev", h.veth[i]);
                    h.must("-n", h.ns[i], "link", "set", "lo", "up");
                    h.must("-n", h.ns[i], "link", "set", h.veth[i], "up");
                }
            } catch (Exception | AssertionError e) {
                h.close();
                throw e;
            }
            return h;
        }

        String address(int rank) {
            return address[rank];
        }

        String veth(int rank) {
            return veth[rank];
        }

        void linkUp() throws Exception {
            must("-n", ns[0], "link", "set", veth[0], "up");
        }

        /**
         * Runs {@code args} as rank 0 and rank 1, one in each namespace; when {@code cutAfter} is given, takes rank
         * 0's end of the link down as soon as that file exists.
         */
        List<Ran> run(String[] args, Path cutAfter) throws Exception {
            List<Process> ranks = new ArrayList<>();
            List<Path> logs = new ArrayList<>();
            try {
                for (int r = 0; r < 2; r++) {
                    List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns[r]));
                    command.addAll(CliRun.javaCommand(args));
                    Path log = Files.createTempFile("two-host-rank" + r, ".log");
                    logs.add(log);
                    ProcessBuilder b = new ProcessBuilder(command).redirectErrorStream(true)
                            .redirectOutput(log.toFile());
                    b.environment().putAll(Map.of("RANK", String.valueOf(r), "WORLD_SIZE", "2", "LOCAL_RANK", "0",
                            "MASTER_ADDR", address[0], "MASTER_PORT", String.valueOf(port), "GLOO_SOCKET_IFNAME",
                            veth[r]));
                    ranks.add(b.start());
                }
                long cut = 0;
                if (cutAfter != null) {
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
                    while (!Files.exists(cutAfter) && ranks.get(0).isAlive() && System.nanoTime() < deadline) {
                        Thread.sleep(20);
                    }
                    assertTrue(Files.exists(cutAfter), "no " + cutAfter + ": " + Files.readString(logs.get(0)));
                    must("-n", ns[0], "link", "set", veth[0], "down");
                    cut = System.nanoTime();
                }
                List<Ran> out = new ArrayList<>();
                for (int r = 0; r < 2; r++) {
                    Process p = ranks.get(r);
                    assertTrue(p.waitFor(300, TimeUnit.SECONDS), "rank " + r + " still running: "
                            + Files.readString(logs.get(r)));
                    double after = cutAfter == null ? Double.NaN : (System.nanoTime() - cut) / 1e9;
                    out.add(new Ran(p.exitValue(), Files.readString(logs.get(r), StandardCharsets.UTF_8), after));
                }
                return out;
            } finally {
                ranks.forEach(Process::destroyForcibly);
                for (Path log : logs) {
                    Files.deleteIfExists(log);
                }
            }
        }

        private void must(String... args) throws Exception {
            String failed = ip(args);
            assertTrue(failed == null, "ip " + String.join(" ", args) + ": " + failed);
        }

        /** Runs {@code ip ARGS}: null on success, else why not. */
        private static String ip(String... args) throws InterruptedException {
            List<String> command = new ArrayList<>(List.of("ip"));
            command.addAll(List.of(args));
            try {
                Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
                String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
                return p.waitFor() == 0 ? null : "exit " + p.exitValue() + ": " + said;
            } catch (IOException e) {
                return "iproute2's ip cannot be run: " + e.getMessage();
            }
        }

        @Override
        public void close() throws Exception {
            for (String n : ns) {
                ip("netns", "del", n);  // its end of the veth pair goes with it
            }
        }
    }
}
