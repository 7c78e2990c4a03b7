package org.driftml.output;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputLockTest {
    /** A probe process holding {@code dir}; its first line is "held PID". */
    private record Holder(Process process, BufferedReader out, long pid) {
        static Holder start(Path dir) throws Exception {
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"), OutputLockProbe.class.getName(), dir.toString())
                    .redirectErrorStream(true).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String first = out.readLine();
            assertTrue(first != null && first.startsWith("held "), "the probe took the lock: " + first);
            return new Holder(p, out, Long.parseLong(first.substring(5).trim()));
        }
    }

    @Test
    void aSecondProcessIsRefusedWithTheHolderNamedAndGetsTheFolderOnceReleased(@TempDir Path dir) throws Exception {
        Holder holder = Holder.start(dir);
        OutputLock.HeldException e = assertThrows(OutputLock.HeldException.class,
                () -> OutputLock.acquire(dir, "test", m -> { }));
        assertTrue(e.getMessage().contains("in use by another run (probe, pid " + holder.pid() + ", started "),
                e.getMessage());
        holder.process().getOutputStream().close();  // the probe releases and exits
        assertEquals("released", holder.out().readLine());
        assertTrue(holder.process().waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, Files.size(dir.resolve(OutputLock.FILE)), "a released lock leaves an empty file");
        List<String> stale = new ArrayList<>();
        try (OutputLock mine = OutputLock.acquire(dir, "test", stale::add)) {
            assertEquals(dir.toAbsolutePath().normalize(), mine.folder());
        }
        assertEquals(List.of(), stale, "a released lock is not stale");
    }

    @Test
    void aLockLeftByAKilledRunIsReportedAndTakenOver(@TempDir Path dir) throws Exception {
        Holder holder = Holder.start(dir);
        holder.process().destroyForcibly();
        assertTrue(holder.process().waitFor(30, TimeUnit.SECONDS));
        assertTrue(Files.exists(dir.resolve(OutputLock.FILE)), "a killed run leaves its lock file");
        List<String> stale = new ArrayList<>();
        try (OutputLock mine = OutputLock.acquire(dir, "test", stale::add)) {
            assertEquals(1, stale.size(), stale.toString());
            assertTrue(stale.get(0).contains("ended without releasing it (probe, pid " + holder.pid()), stale.get(0));
        }
        assertEquals(0, Files.size(dir.resolve(OutputLock.FILE)));
    }

    @Test
    void reentrantForItsThreadRefusedToAnother(@TempDir Path dir) throws Exception {
        Path folder = dir.resolve("out");  // created by the lock
        try (OutputLock outer = OutputLock.acquire(folder, "outer", m -> { })) {
            try (OutputLock inner = OutputLock.acquire(folder.resolve("../out"), "inner", m -> { })) {
                assertSame(outer, inner);
            }
            assertTrue(Files.size(folder.resolve(OutputLock.FILE)) > 0, "the outer hold keeps the lock");
            ExecutionException e = assertThrows(ExecutionException.class, () -> CompletableFuture.supplyAsync(() -> {
                try {
                    return OutputLock.acquire(folder, "other thread", m -> { });
                } catch (java.io.IOException io) {
                    throw new RuntimeException(io);
                }
            }).get());
            assertTrue(e.getCause() instanceof OutputLock.HeldException, String.valueOf(e.getCause()));
            assertTrue(e.getCause().getMessage().contains("in use by another run in this process"));
        }
        assertEquals(0, Files.size(folder.resolve(OutputLock.FILE)));
    }
}
