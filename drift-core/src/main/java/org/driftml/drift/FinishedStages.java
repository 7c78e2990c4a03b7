package org.driftml.drift;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The stages a DRIFT run has finished, as {@link DriftTrainer} lays them out: {@code warmstart}, then
 * {@code iteration-1}, {@code iteration-2}, ..., each done once its {@code summary.json} is written (last, atomically),
 * so a stage still training is never taken for a finished one.
 */
public final class FinishedStages {
    private static final Pattern ITERATION = Pattern.compile("iteration-(\\d+)");

    private FinishedStages() {}

    /** A finished stage: its name and folder. */
    public record Stage(String name, Path folder) {}

    /** The stage a folder is, when it is a finished stage of a run ({@code iteration-2}, say); null otherwise. */
    public static String stageOf(Path folder) {
        String name = folder.toAbsolutePath().normalize().getFileName().toString();
        return (name.equals("warmstart") || ITERATION.matcher(name).matches())
                && Files.isRegularFile(folder.resolve("summary.json")) ? name : null;
    }

    /** The run's newest finished stage (the highest iteration, else the warm start), if any. */
    public static Optional<Stage> newest(Path run) throws java.io.IOException {
        if (!Files.isDirectory(run)) {
            return Optional.empty();
        }
        Stage best = null;
        int bestK = -1;
        try (var folders = Files.list(run)) {
            for (Path f : folders.toList()) {
                String name = f.getFileName().toString();
                Matcher m = ITERATION.matcher(name);
                int k = m.matches() ? Integer.parseInt(m.group(1)) : name.equals("warmstart") ? 0 : -1;
                if (k > bestK && Files.isRegularFile(f.resolve("summary.json"))) {
                    best = new Stage(name, f);
                    bestK = k;
                }
            }
        }
        return Optional.ofNullable(best);
    }
}
