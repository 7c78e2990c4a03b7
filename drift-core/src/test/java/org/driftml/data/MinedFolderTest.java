package org.driftml.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.driftml.text.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MinedFolderTest {
    private static DsatItem item(int i) {
        return new DsatItem("item-" + i, List.of(new ChatMessage("user", "question " + i)), "bad answer " + i,
                "that is wrong", "log.jsonl:" + i);
    }

    private static DsatMiner.Mined mined(List<DsatItem> items) {
        return new DsatMiner.Mined(items,
                List.of(PreferencePair.conversational(List.of(new ChatMessage("user", "q")), "good", "bad")),
                List.of(new SatReply("sat-1", List.of(new ChatMessage("user", "q2")), "fine", "log.jsonl:9")),
                Map.of("DSAT items", items.size()));
    }

    /** Every file of the folder by name, with its bytes as text. */
    private static Map<String, String> contents(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                out.put(f.getFileName().toString(), Files.isDirectory(f) ? "<dir>" : Files.readString(f));
            }
        }
        return out;
    }

    @Test
    void aWriteThatFailsPartwayLeavesThePreviousFolderAsItWas(@TempDir Path dir) throws IOException {
        MinedFolder.write(dir, mined(List.of(item(1), item(2))));
        Map<String, String> before = contents(dir);
        // A failure after some of the new dsat.jsonl is written, as a full disk would fail it.
        List<DsatItem> failing = new AbstractList<>() {
            @Override
            public DsatItem get(int i) {
                if (i == 2) {
                    throw new UncheckedIOException(new IOException("No space left on device"));
                }
                return item(10 + i);
            }

            @Override
            public int size() {
                return 5;
            }
        };
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> MinedFolder.write(dir, mined(failing)));
        assertEquals("No space left on device", e.getCause().getMessage());
        assertEquals(before, contents(dir), "the previous folder, file for file");
        DsatMiner.Mined read = MinedFolder.read(dir);
        assertEquals(List.of("item-1", "item-2"), read.items().stream().map(DsatItem::id).toList());
    }

    @Test
    void aFolderLeftWithoutItsCountsIsRefusedAndAStagingFolderIsCleanedUp(@TempDir Path dir) throws IOException {
        MinedFolder.write(dir, mined(List.of(item(1))));
        // As a run killed between its moves leaves it: counts.json gone, a staging folder behind.
        Files.delete(dir.resolve("counts.json"));
        Files.createDirectories(dir.resolve(".staging-123"));
        Files.writeString(dir.resolve(".staging-123/dsat.jsonl"), "{\"id\": \"half");
        IOException refused = assertThrows(IOException.class, () -> MinedFolder.read(dir));
        assertTrue(refused.getMessage().contains("no counts.json: a drift mine into this folder stopped"),
                refused.getMessage());
        MinedFolder.write(dir, mined(List.of(item(3))));
        assertEquals(List.of(".drift.lock", "counts.json", "dsat.jsonl", "preferences.jsonl", "satisfying.jsonl",
                "seeds.jsonl"),
                List.copyOf(contents(dir).keySet()));
        assertEquals(List.of("item-3"), MinedFolder.read(dir).items().stream().map(DsatItem::id).toList());
    }
}
