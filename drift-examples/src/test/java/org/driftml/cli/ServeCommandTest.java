package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** drift serve's refusals: each bad option named, exit 2, before it listens or reads a weight. */
class ServeCommandTest {
    private static final String MODEL = CliRun.parity("tiny-qwen2-chat").toString();

    private static void refused(String expected, String... args) {
        String[] all = new String[args.length + 1];
        all[0] = "serve";
        System.arraycopy(args, 0, all, 1, args.length);
        CliRun r = CliRun.of("", all);
        assertEquals(2, r.code(), r.err() + r.out());
        assertTrue(r.err().startsWith("drift serve: "), r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertTrue(r.err().strip().lines().count() == 1 && !r.err().contains("Exception"), r.err());
    }

    @Test
    void listeningBeyondThisMachineNeedsAKey() {
        refused("--host 0.0.0.0 listens beyond this machine", "--model", MODEL, "--host", "0.0.0.0");
    }

    @Test
    void eachBadOptionIsNamed(@TempDir Path dir) throws Exception {
        Path empty = Files.writeString(dir.resolve("key"), "\n");
        refused("--api-key-file " + empty + ": the API key is empty", "--model", MODEL, "--api-key-file",
                empty.toString());
        refused("--api-key-file " + dir.resolve("none") + " is not a readable file", "--model", MODEL,
                "--api-key-file", dir.resolve("none").toString());
        refused("give --api-key or --api-key-file, not both", "--model", MODEL, "--api-key", "k", "--api-key-file",
                empty.toString());
        refused("--max-model-len 999 must be in [2, 128]", "--model", MODEL, "--max-model-len", "999");
        refused("--max-batch 0 must be at least 1", "--model", MODEL, "--max-batch", "0");
        refused("--port 70000 is not a port", "--model", MODEL, "--port", "70000");
        refused("has no tokenizer.json", "--model", CliRun.parity("tiny-qwen2").toString());
        refused("--dtype", "--model", MODEL, "--dtype", "float8");
        refused("--adapter " + dir + " has no adapter_config.json", "--model", MODEL, "--adapter", dir.toString());
        refused("--models-root needs --admin-key", "--model", MODEL, "--models-root", dir.toString());
        refused("--admin-key is for POST /admin/reload: give --models-root too", "--model", MODEL, "--admin-key",
                "k");
        refused("--watch " + dir.resolve("none") + " is not a folder", "--watch", dir.resolve("none").toString());
        refused("--watch " + dir + " has no finished stage yet: give --model", "--watch", dir.toString());
        refused("--log-dir " + empty + " is a file, not a folder", "--model", MODEL, "--log-dir", empty.toString());
        refused("--model DIR is required (or --watch RUN_DIR)");
        Path notALog = Files.createDirectories(dir.resolve("notes"));
        Files.writeString(notALog.resolve("a.txt"), "mine");
        refused("is not a drift serve log", "--model", MODEL, "--port", "0", "--log-dir", notALog.toString());
        assertEquals(java.util.List.of(notALog.resolve("a.txt")), Files.list(notALog).toList(),
                "a refused log folder is left as it was");
    }

    @Test
    void aPortInUseIsRefusedBeforeTheModelLoads() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            refused("cannot listen on 127.0.0.1:" + taken.getLocalPort(), "--model", MODEL, "--port",
                    Integer.toString(taken.getLocalPort()));
        }
    }
}
