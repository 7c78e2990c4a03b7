package org.driftml.output;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The run-folder protocol, in its order: apart from the inputs, locked, identity recorded or matched, temporaries cleared. */
class RunFolderTest {
    @Test
    void aClaimChecksLocksRecordsAndClears(@TempDir Path dir) throws Exception {
        Path model = Files.createDirectories(dir.resolve("model")), out = dir.resolve("out");
        assertThrows(IllegalArgumentException.class,
                () -> RunFolder.at(model.resolve("inside")).apartFrom(model, "model folder").claim());
        assertFalse(Files.exists(model.resolve("inside")), "nothing is made before the check");

        Files.createDirectories(out.resolve("stage"));
        Files.writeString(out.resolve("stage/weights.safetensors.tmp"), "half");
        try (RunFolder run = RunFolder.at(out).by("test").apartFrom(model, "model folder")
                .identity(Map.of("seed", 1), null).claim()) {
            assertTrue(run.writes());
            assertTrue(Files.isRegularFile(out.resolve(RunRecord.FILE)));
            assertFalse(Files.exists(out.resolve("stage/weights.safetensors.tmp")), "a killed save's temporary");
            // A second writer, here another thread, is refused while the first holds the folder.
            ExecutionException held = assertThrows(ExecutionException.class, () -> CompletableFuture.supplyAsync(() -> {
                try {
                    return RunFolder.at(out).by("other").claim();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).get());
            assertTrue(held.getCause() instanceof OutputLock.HeldException, String.valueOf(held.getCause()));
            // A claim inside this thread's claim (a command's, then its library's) leaves a live write alone.
            Files.writeString(out.resolve("stage/now.tmp"), "being written");
            RunFolder.at(out).identity(Map.of("seed", 1), null).claim().close();
            assertTrue(Files.exists(out.resolve("stage/now.tmp")), "the outer claim has cleared what was stale");
        }
        // Released: the same run resumes, another is refused naming what differs.
        RunFolder.at(out).identity(Map.of("seed", 1), null).claim().close();
        OutputConflictException other = assertThrows(OutputConflictException.class,
                () -> RunFolder.at(out).identity(Map.of("seed", 2), null).claim());
        assertTrue(other.getMessage().contains("seed (1 there, 2 here)"), other.getMessage());
        RunFolder.at(out).claim().close();  // the failed claim released the lock
    }
}
