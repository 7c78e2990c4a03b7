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
import org.driftml.text.ChatMessage;

/**
 * What {@code drift mine} writes and {@code drift warmstart} / {@code drift train} read:
 * <ul>
 *   <li>{@code dsat.jsonl}: DSAT items in DRIFT's released record format (plus {@code id} and {@code source});</li>
 *   <li>{@code seeds.jsonl}: the DSAT-to-SAT seed pairs in TRL's conversational format;</li>
 *   <li>{@code satisfying.jsonl}: replies users marked SAT ({@code prompt} and {@code chosen}), SPIN's positives;</li>
 *   <li>{@code counts.json}: the miner's counts.</li>
 * </ul>
 * Each file is written to a temporary name and renamed, so a folder never holds half a file.
 */
public final class MinedFolder {
    private MinedFolder() {}

    public static void write(Path dir, DsatMiner.Mined mined) throws IOException {
        Files.createDirectories(dir);
        atomically(dir.resolve("dsat.jsonl"), out -> {
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
        atomically(dir.resolve("seeds.jsonl"), out -> {
            for (PreferencePair p : mined.seeds()) {
                out.write(PreferencePairs.toJson(p) + "\n");
            }
        });
        atomically(dir.resolve("satisfying.jsonl"), out -> {
            for (SatReply s : mined.satisfying()) {
                ObjectNode n = LogFiles.JSON.createObjectNode();
                n.put("id", s.id());
                messages(n.putArray("prompt"), s.prompt());
                n.putArray("chosen").addObject().put("role", "assistant").put("content", s.reply());
                n.put("source", s.source());
                out.write(n + "\n");
            }
        });
        atomically(dir.resolve("counts.json"),
                out -> out.write(LogFiles.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(mined.counts())));
    }

    public static DsatMiner.Mined read(Path dir) throws IOException {
        for (String f : new String[] {"dsat.jsonl", "seeds.jsonl", "satisfying.jsonl"}) {
            if (!Files.exists(dir.resolve(f))) {
                throw new IOException(dir + ": no " + f + " (is this a folder written by drift mine?)");
            }
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
        Path countsFile = dir.resolve("counts.json");
        if (Files.exists(countsFile)) {
            LogFiles.JSON.readTree(countsFile.toFile()).fields()
                    .forEachRemaining(e -> counts.put(e.getKey(), e.getValue().asInt()));
        }
        return new DsatMiner.Mined(items, seeds, satisfying, counts);
    }

    private static void messages(ArrayNode out, List<ChatMessage> messages) {
        messages.forEach(m -> out.addObject().put("role", m.role()).put("content", m.content()));
    }

    private interface Body {
        void write(Writer out) throws IOException;
    }

    private static void atomically(Path file, Body body) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            body.write(w);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
