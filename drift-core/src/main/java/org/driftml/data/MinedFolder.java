package org.driftml.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
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
 *   <li>{@code counts.json}: the miner's counts.</li>
 * </ul>
 * The four files are written into a staging folder inside {@code dir} first and moved into place only when all
 * are whole, so a write that fails (a full disk) leaves the previous folder as it was; before, a failed {@code drift
 * mine} left a new {@code dsat.jsonl} beside the old {@code seeds.jsonl} and counts, and {@code drift train} took
 * it. {@code counts.json} is removed before the moves and moved in last: a run killed between the moves leaves a
 * folder without it, which {@link #read} refuses.
 */
public final class MinedFolder {
    private static final String STAGING = ".staging-";

    private MinedFolder() {}

    /** Writes the folder for {@code drift mine}, holding its lock (one writer per output). */
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
                file(staging.resolve("counts.json"), out -> out.write(
                        LogFiles.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(mined.counts())));
                Files.deleteIfExists(dir.resolve("counts.json"));
                for (String f : new String[] {"dsat.jsonl", "seeds.jsonl", "satisfying.jsonl", "counts.json"}) {
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
        List<SatReply> satisfying = new ArrayList<>();
        LogFiles.read(dir.resolve("satisfying.jsonl"), OnBadRecord.FAIL, new ReadReport(), r -> {
            JsonNode n = r.value();
            satisfying.add(new SatReply(n.path("id").asText("sat-" + (satisfying.size() + 1)),
                    Messages.list(r, "prompt", n.get("prompt")), Messages.reply(r, "chosen", n.get("chosen")),
                    n.path("source").asText(r.where())));
        });
        Map<String, Integer> counts = new LinkedHashMap<>();
        LogFiles.JSON.readTree(dir.resolve("counts.json").toFile()).fields()
                .forEachRemaining(e -> counts.put(e.getKey(), e.getValue().asInt()));
        return new DsatMiner.Mined(items, seeds, satisfying, counts);
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
