package org.driftml.output;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;

/** Checks on where a run writes, made before it loads or trains anything. */
public final class OutputFolder {
    private OutputFolder() {}

    /**
     * Refuses an output folder that is {@code input}, lies inside it or contains it: the run would overwrite what it
     * reads (a {@code drift dpo} with {@code --output} equal to {@code --model} replaced the model it was training
     * from; with {@code --output} equal to {@code --adapter}, the adapter).
     *
     * @param what the input's name for the message ("model folder", say)
     * @throws IllegalArgumentException naming both folders
     */
    public static void requireApart(Path output, Path input, String what) {
        Path out = real(output), in = real(input);
        if (out.equals(in)) {
            throw new IllegalArgumentException("the output folder " + output + " is the " + what + ": the run would"
                    + " overwrite what it reads; choose another output folder");
        }
        if (out.startsWith(in)) {
            throw new IllegalArgumentException("the output folder " + output + " is inside the " + what + " " + input
                    + ": the run would write into what it reads; choose a folder outside it");
        }
        if (in.startsWith(out)) {
            throw new IllegalArgumentException("the output folder " + output + " contains the " + what + " " + input
                    + ": the run would write where it reads; choose a folder apart from it");
        }
    }

    /**
     * Writes {@code text} (UTF-8) to {@code file} whole or not at all: into {@code FILE.tmp} beside it, then renamed
     * over it. A kill midway leaves the old file and a temporary that {@link #removeStaleTemporaries} clears.
     */
    public static void writeAtomically(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * Removes what a killed run left half-written in {@code output} and one level below (a stage's folder): files
     * named {@code NAME.tmp} or {@code NAME.tmp-PID} and folders named {@code NAME.tmp} (a checkpoint being written).
     * Call it holding the folder's {@link OutputLock}: a live writer's temporaries look the same.
     */
    public static void removeStaleTemporaries(Path output) throws IOException {
        if (!Files.isDirectory(output)) {
            return;
        }
        List<Path> stale;
        try (var all = Files.walk(output, 2)) {
            stale = all.filter(p -> p.getFileName().toString().matches(".+\\.tmp(-\\d+)?")).toList();
        }
        for (Path p : stale) {
            try (var tree = Files.walk(p)) {
                for (Path q : tree.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(q);
                }
            }
        }
    }

    /** The path as the file system resolves it (links followed) as far as it exists, then lexically. */
    private static Path real(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !existing.toFile().exists()) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(abs)).normalize();
        } catch (IOException e) {
            return abs;
        }
    }
}
