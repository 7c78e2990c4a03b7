package org.driftml.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.driftml.output.OutputFolder;
import org.driftml.output.Progress;

/**
 * Where each optimiser step's metrics go: appended to {@code metrics.jsonl} (one JSON object per step, TRL's names),
 * and told to a {@link Progress} as counted work (a bar on a terminal, plain lines otherwise: logs, CI).
 */
public final class TrainingLog {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private final Progress progress;
    private final int totalSteps;

    /** @param progress told each step as counted work ({@link Progress#terminal} shows a bar) */
    public TrainingLog(Path file, Progress progress, int totalSteps) {
        this.file = file;
        this.progress = progress;
        this.totalSteps = totalSteps;
    }

    /**
     * Keeps only the steps up to {@code step} (a resumed run replays the rest, and the log must not hold them twice).
     * A last line cut short by a kill mid-append is dropped (it once blocked every resume with a JSON error naming no
     * file); a malformed line elsewhere is an error naming the file and line. Rewritten atomically.
     */
    public void truncateAfter(int step) throws IOException {
        if (!Files.exists(file)) {
            return;
        }
        requireFile();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        boolean endsWithNewline = Files.size(file) == 0 || endsWithNewline();
        List<String> kept = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            JsonNode n;
            try {
                n = JSON.readTree(line);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                if (i == lines.size() - 1 && !endsWithNewline) {
                    break;  // torn by a kill while appending: that step is replayed
                }
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": not a metrics record ("
                        + e.getOriginalMessage() + ")");
            }
            if (n.path("step").asInt() <= step) {
                kept.add(line);
            }
        }
        OutputFolder.writeAtomically(file, kept.stream().map(l -> l + "\n").collect(Collectors.joining()));
    }

    private boolean endsWithNewline() throws IOException {
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "r")) {
            f.seek(f.length() - 1);
            return f.read() == '\n';
        }
    }

    /** Appends the step under TRL's names and tells it to the progress. */
    public void record(StepMetrics metrics) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, JSON.writeValueAsString(metrics.trl()) + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        int step = metrics.step();
        String summary = String.format("step %d/%d  loss %.4f  margin %.4f  acc %.2f  lr %.2e  grad %.3f", step,
                totalSteps, metrics.loss(), metrics.margin(), metrics.accuracy(), metrics.learningRate(),
                metrics.gradNorm());
        progress.counted(step, totalSteps, summary);
    }

    /** A metrics file that is a folder is named (the system says only "Is a directory"). */
    private void requireFile() {
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException(file + " is a folder, not the run's metrics (JSON Lines)");
        }
    }

    /** Every step recorded so far, in order. */
    public List<StepMetrics> read() throws IOException {
        List<StepMetrics> out = new ArrayList<>();
        requireFile();
        if (Files.exists(file)) {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    out.add(StepMetrics.fromTrl(JSON.readValue(line,
                            new com.fasterxml.jackson.core.type.TypeReference<Map<String, Double>>() {})));
                }
            }
        }
        return out;
    }
}
