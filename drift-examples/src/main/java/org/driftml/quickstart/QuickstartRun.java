package org.driftml.quickstart;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The entry point the CLI calls: settings from options, the run, and the results table it wrote. */
public final class QuickstartRun {
    /** Command-line choices; null means the size's default. */
    public record Options(String size, Integer seeds, Integer iterations, Integer conversations, Long worldSeed,
            boolean served) {
        public Options(String size, Integer seeds, Integer iterations, Integer conversations, Long worldSeed) {
            this(size, seeds, iterations, conversations, worldSeed, false);
        }
    }

    private QuickstartRun() {}

    public static String run(Options o, Path output, PrintStream progress) throws IOException {
        Quickstart.Settings s = switch (o.size().toLowerCase(java.util.Locale.ROOT)) {
            case "default" -> Quickstart.Settings.DEFAULT;
            case "small" -> Quickstart.Settings.SMALL;
            default -> throw new IllegalArgumentException("--size must be default or small, got " + o.size());
        };
        if (o.conversations() != null && o.conversations() < 1) {
            throw new IllegalArgumentException("--conversations must be at least 1, got " + o.conversations());
        }
        if (o.iterations() != null && o.iterations() < 0) {
            throw new IllegalArgumentException("--iterations must be at least 0, got " + o.iterations());
        }
        List<Long> seeds = s.seeds();
        if (o.seeds() != null) {
            if (o.seeds() < 1) {
                throw new IllegalArgumentException("--seeds must be >= 1");
            }
            seeds = new ArrayList<>();
            for (long i = 1; i <= o.seeds(); i++) {
                seeds.add(i);
            }
        }
        s = new Quickstart.Settings(s.size(), s.sftDemos(), s.sftEpochs(), s.sftLearningRate(),
                o.conversations() != null ? o.conversations() : s.conversations(), s.evalTasks(), seeds,
                o.iterations() != null ? o.iterations() : s.iterations(), s.dpoLearningRate(), s.dpoBatch(),
                s.maxNewTokens(), o.worldSeed() != null ? o.worldSeed() : s.worldSeed());
        new Quickstart(s, output, progress, o.served()).run();
        return Files.readString(output.resolve("results.md"));
    }
}
