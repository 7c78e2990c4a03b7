package org.driftml.data;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.driftml.output.RunFolder;
import org.driftml.text.ChatMessage;

/**
 * What {@code drift mine} writes and {@code drift warmstart} / {@code drift train} read:
 * <ul>
 *   <li>{@code dsat.jsonl}: DSAT items in DRIFT's released record format (plus {@code id} and {@code source});</li>
 *   <li>{@code seeds.jsonl}: the DSAT-to-SAT seed pairs in TRL's conversational format;</li>
 *   <li>{@code satisfying.jsonl}: replies users marked SAT ({@code prompt} and {@code chosen}), SPIN's positives;</li>
 *   <li>{@code preferences.jsonl}: the UltraFeedback setting's records, each prompt with its chosen and rejected
 *       replies (Sec. 4.1);</li>
 *   <li>{@code counts.json}: the miner's counts.</li>
 * </ul>
 * The files are written into a staging folder inside {@code dir} first and moved into place only when all
 * are whole, so a write that fails (a full disk) leaves the previous folder as it was; before, a failed {@code drift
 * mine} left a new {@code dsat.jsonl} beside the old {@code seeds.jsonl} and counts, and {@code drift train} took
 * it. {@code counts.json} is removed before the moves and moved in last: a run killed between the moves leaves a
 * folder without it, which {@link #read} refuses.
 */
public final class MinedFolder {
    private static final String STAGING = ".staging-";
    /** The UltraFeedback setting's records, prompt with both replies (TRL's conversational preference format). */
    public static final String PREFERENCES = "preferences.jsonl";

    private MinedFolder() {}

    /** Writes the folder for {@code drift mine}, holding its lock (one writer per output). */
    /**
     * Refuses {@code output} when it is what {@code drift mine} wrote (its counts and DSAT items): an input, never a
     * run's output (a dpo into a mined folder mixed its files with the mined ones).
     */
    public static void requireNotMined(Path output) {
        if (java.nio.file.Files.isRegularFile(output.resolve("counts.json"))
                && java.nio.file.Files.isRegularFile(output.resolve("dsat.jsonl"))) {
            throw new IllegalArgumentException(output + " is what drift mine wrote (counts.json, dsat.jsonl): an "
                    + "input; choose another output folder");
        }
    }

    public static void write(Path dir, DsatMiner.Mined mined) throws IOException {
        try (RunFolder run = RunFolder.at(dir).by("drift mine").claim()) {
            removeStaging(dir);  // left by a run killed while staging
            Path staging = Files.createTempDirectory(dir, STAGING);
            try {
                file(staging.resolve("dsat.jsonl"), out -> {
                    for (DsatItem i : mined.items()) {
                        ObjectNode n = LogFiles.JSON.createObjectNode();
                        n.put("id", i.id());
                        messages(n.putArray("prompt"), i.prompt());
                        n.putArray("rejected").addObject().put("role", "assistant").put("content", i.rejected());
                        n.putObject("user_preference").put("content", i.feedback());
                        n.put("source", i.source());
                        out.write(n + "\n");
                    }
                });
                file(staging.resolve("seeds.jsonl"), out -> {
                    for (PreferencePair p : mined.seeds()) {
                        out.write(PreferencePairs.toJson(p) + "\n");
                    }
                });
                file(staging.resolve("satisfying.jsonl"), out -> {
                    for (SatReply s : mined.satisfying()) {
                        ObjectNode n = LogFiles.JSON.createObjectNode();
                        n.put("id", s.id());
                        messages(n.putArray("prompt"), s.prompt());
                        n.putArray("chosen").addObject().put("role", "assistant").put("content", s.reply());
                        n.put("source", s.source());
                        out.write(n + "\n");
                    }
                });
                file(staging.resolve(PREFERENCES), out -> {
                    for (PreferencePair p : mined.preferences()) {
                        out.write(PreferencePairs.toJson(p) + "\n");
                    }
                });
                file(staging.resolve("counts.json"), out -> out.write(
                        LogFiles.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(mined.counts())));
                Files.deleteIfExists(dir.resolve("counts.json"));
                for (String f : new String[] {"dsat.jsonl", "seeds.jsonl", "satisfying.jsonl", PREFERENCES,
                        "counts.json"}) {
                    Files.move(staging.resolve(f), dir.resolve(f), StandardCopyOption.ATOMIC_MOVE,
                            StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                removeStaging(dir);
            }
        }
    }

    public static DsatMiner.Mined read(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException(dir + ": no such folder (run drift mine to make it)");
        }
        for (String f : new String[] {"dsat.jsonl", "seeds.jsonl", "satisfying.jsonl"}) {
            if (!Files.exists(dir.resolve(f))) {
                throw new IOException(dir + ": no " + f + " (is this a folder written by drift mine?)");
            }
        }
        if (!Files.exists(dir.resolve("counts.json"))) {
            throw new IOException(dir + ": no counts.json: a drift mine into this folder stopped while replacing "
                    + "its files; run drift mine again");
        }
        List<DsatItem> items = DsatRecords.read(dir.resolve("dsat.jsonl"), OnBadRecord.FAIL).items();
        List<PreferencePair> seeds = PreferencePairs.read(dir.resolve("seeds.jsonl"));
        List<SatReply> satisfying = SatRecords.read(dir.resolve("satisfying.jsonl"), OnBadRecord.FAIL).replies();
        // Written since the UltraFeedback setting (issue 29); an older folder has none.
        Path prefs = dir.resolve(PREFERENCES);
        List<PreferencePair> preferences = Files.exists(prefs) ? PreferencePairs.read(prefs) : List.of();
        Map<String, Integer> counts = new LinkedHashMap<>();
        LogFiles.JSON.readTree(dir.resolve("counts.json").toFile()).fields()
                .forEachRemaining(e -> counts.put(e.getKey(), e.getValue().asInt()));
        return new DsatMiner.Mined(items, seeds, satisfying, preferences, counts);
    }

    private static void messages(ArrayNode out, List<ChatMessage> messages) {
        messages.forEach(m -> out.addObject().put("role", m.role()).put("content", m.content()));
    }

    private interface Body {
        void write(Writer out) throws IOException;
    }

    private static void file(Path file, Body body) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            body.write(w);
        }
    }

    private static void removeStaging(Path dir) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path staging : entries.filter(p -> p.getFileName().toString().startsWith(STAGING)).toList()) {
                try (Stream<Path> files = Files.list(staging)) {
                    for (Path f : files.toList()) {
                        Files.delete(f);
                    }
                }
                Files.delete(staging);
            }
        }
    }
}
