package org.driftml.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.NativeRuntime;
import org.junit.jupiter.api.Test;

/** c10d through the presets: Gloo process groups of separate JVMs over loopback, as CI can run them. */
class ProcessGroupTest {
    private static int freePort() throws IOException {
        return LocalRanks.freePort();
    }

    private static Process rank(int rank, int worldSize, int port, int timeoutSeconds) throws IOException {
        return LocalRanks.start(AllreduceProbe.class, rank, worldSize, port, List.of(String.valueOf(timeoutSeconds)));
    }

    private static String output(Process p) throws Exception {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "the rank finished");
        return out;
    }

    /** Two JVMs each all-reduce their own draws: both end with the elementwise sum of the two. */
    @Test
    void twoProcessesSumTheirTensorsOverLoopback() throws Exception {
        int port = freePort();
        List<Process> ranks = new ArrayList<>(List.of(rank(0, 2, port, 60), rank(1, 2, port, 60)));
        NativeRuntime.load();
        Tensor expected = AllreduceProbe.draws(0).add(AllreduceProbe.draws(1));  // what the sum must be
        for (int r = 0; r < 2; r++) {
            String out = output(ranks.get(r));
            assertEquals(0, ranks.get(r).exitValue(), out);
            String want = String.format("rank %d sum %.9g first %.9g", r, expected.sum().item_double(),
                    expected.get(0).item_double());
            assertTrue(out.contains(want), "want \"" + want + "\", got: " + out);
            // Reduce-scatter: rank r holds the bf16 sum's r-th half; all-gather: both ranks' bf16 draws end to end.
            Tensor sum = bf16(AllreduceProbe.draws(0)).add(bf16(AllreduceProbe.draws(1))).to(ScalarType.BFloat16);
            double slice = sum.narrow(0, 500L * r, 500).to(ScalarType.Double).sum().item_double();
            double gathered = bf16(AllreduceProbe.draws(0)).sum().item_double()
                    + bf16(AllreduceProbe.draws(1)).sum().item_double();
            String collectives = String.format("rank %d slice %.9g gathered %.9g", r, slice, gathered);
            assertTrue(out.contains(collectives), "want \"" + collectives + "\", got: " + out);
        }
    }

    /** {@code t} rounded to bf16, held in fp64 (sums of it are then exact at these sizes). */
    private static Tensor bf16(Tensor t) {
        return t.to(ScalarType.BFloat16).to(ScalarType.Double);
    }

    /** A rank that never comes: the one that did fails within its timeout, naming itself, instead of hanging. */
    @Test
    void aRankThatNeverComesIsAnErrorWithinTheTimeout() throws Exception {
        long start = System.nanoTime();
        Process alone = rank(0, 2, freePort(), 3);
        String out = output(alone);
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(1, alone.exitValue(), out);
        assertTrue(out.contains("error: rank 0") && out.contains("3 s"), out);
        assertTrue(seconds < 60, "gave up after " + seconds + " s");
    }

    /** A master nobody opened (rank 0 never started, or a wrong MASTER_ADDR:MASTER_PORT): an error naming it. */
    @Test
    void anUnreachableMasterIsAnErrorNamingIt() throws Exception {
        int port = freePort();
        long start = System.nanoTime();
        Process p = rank(1, 2, port, 3);
        String out = output(p);
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(1, p.exitValue(), out);
        assertTrue(out.contains("error: rank 1: the rendezvous at 127.0.0.1:" + port
                + " (MASTER_ADDR:MASTER_PORT) failed within 3 s"), out);
        assertTrue(seconds < 60, "gave up after " + seconds + " s");
        System.out.printf("an unreachable master: rank 1 stopped after %.1f s: %s%n", seconds, out.strip());
    }

    /** MASTER_PORT taken by another program: a clear error naming the address, not a hang. */
    @Test
    void aPortInUseIsAnErrorNamingIt() throws Exception {
        try (ServerSocket taken = new ServerSocket(0)) {
            Process p = rank(0, 1, taken.getLocalPort(), 5);
            String out = output(p);
            assertEquals(1, p.exitValue(), out);
            assertTrue(out.contains("error: rank 0: the rendezvous at 127.0.0.1:" + taken.getLocalPort()
                    + " (MASTER_ADDR:MASTER_PORT) failed"), out);
        }
    }

    /** An interface GLOO_SOCKET_IFNAME names that this host lacks is refused naming it, not a native abort. */
    @Test
    void anUnknownSocketInterfaceIsNamed() throws Exception {
        WorldEnv env = new WorldEnv(0, 1, 0, "127.0.0.1", freePort(), List.of("nosuch0"));
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                () -> ProcessGroup.join(env, java.time.Duration.ofSeconds(10)).close());
        assertTrue(x.getMessage().startsWith("GLOO_SOCKET_IFNAME: rank 0 cannot use network interface nosuch0"),
                x.getMessage());
    }

    @Test
    void torchrunsVariablesAreReadAndCheckedNamingTheVariable() {
        WorldEnv e = WorldEnv.fromEnvironment(Map.of("RANK", "3", "WORLD_SIZE", "4", "LOCAL_RANK", "1",
                "MASTER_ADDR", "node0", "MASTER_PORT", "1234"));
        assertEquals(new WorldEnv(3, 4, 1, "node0", 1234), e);
        assertEquals(WorldEnv.single(), WorldEnv.fromEnvironment(Map.of()));
        assertEquals(new WorldEnv(1, 2, 1, "127.0.0.1", 29500),
                WorldEnv.fromEnvironment(Map.of("RANK", "1", "WORLD_SIZE", "2")));  // torchrun's defaults
        Map<String, String> bad = Map.of("RANK", "2", "WORLD_SIZE", "2");
        // GLOO_SOCKET_IFNAME as torch reads it: the interfaces Gloo listens on, comma-separated.
        assertEquals(List.of("eth1", "eth2"), WorldEnv.fromEnvironment(Map.of("RANK", "0", "WORLD_SIZE", "2",
                "GLOO_SOCKET_IFNAME", "eth1,eth2")).socketInterfaces());
        String[][] cases = {{"RANK", "2"}, {"WORLD_SIZE", "x"}, {"MASTER_PORT", "70000"}, {"LOCAL_RANK", "-1"},
            {"GLOO_SOCKET_IFNAME", "eth0,"}, {"GLOO_SOCKET_IFNAME", "no such name"}};
        for (String[] c : cases) {
            java.util.Map<String, String> env = new java.util.HashMap<>(Map.of("RANK", "0", "WORLD_SIZE", "2"));
            env.put(c[0], c[1]);
            if (c[0].equals("RANK")) {
                env = new java.util.HashMap<>(bad);
            }
            Map<String, String> given = env;
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                    () -> WorldEnv.fromEnvironment(given));
            assertTrue(x.getMessage().startsWith(c[0]), c[0] + ": " + x.getMessage());
        }
        IllegalArgumentException half = assertThrows(IllegalArgumentException.class,
                () -> WorldEnv.fromEnvironment(Map.of("RANK", "0")));
        assertTrue(half.getMessage().contains("WORLD_SIZE is not set"), half.getMessage());
    }
}
