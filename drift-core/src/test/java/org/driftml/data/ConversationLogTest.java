package org.driftml.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** drift serve's log on disk: appended, rotated, new at each start, its torn tail ignored, one writer. */
class ConversationLogTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static ObjectNode reply(String id, String conversation, String reply, String... messages) {
        ObjectNode r = JSON.createObjectNode().put("type", "reply").put("id", id).put("conversation", conversation);
        var list = r.putArray("messages");
        for (int i = 0; i < messages.length; i++) {
            list.addObject().put("role", i % 2 == 0 ? "user" : "assistant").put("content", messages[i]);
        }
        return r.put("reply", reply);
    }

    @Test
    void recordsFromManyThreadsAreEachOneWholeLineAndSegmentsRotate(@TempDir Path dir) throws Exception {
        Path folder = dir.resolve("log");
        int n = 200;
        try (ConversationLog log = ConversationLog.open(folder, 4096, "test")) {
            ExecutorService pool = Executors.newFixedThreadPool(16);
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int k = i;
                done.add(pool.submit(() -> {
                    log.append(reply("r" + k, "c" + (k % 7), "answer " + k, "question " + k));
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            pool.shutdown();
        }
        List<Path> segments = ConversationLog.segments(folder);
        assertTrue(segments.size() > 3, "a 4 KiB segment holds a few dozen records: " + segments);
        for (Path s : segments) {
            assertTrue(Files.size(s) <= 4096, s + " passed its size");
        }
        ServedLogs.Read read = ServedLogs.read(folder, OnBadRecord.FAIL);
        assertEquals(n, read.replies().size());
        assertEquals(n, read.replies().stream().map(ServedLogs.Reply::id).distinct().count());
    }

    @Test
    void aTornLastLineIsLeftOutAndTheNextStartWritesANewSegment(@TempDir Path dir) throws Exception {
        Path folder = dir.resolve("log");
        try (ConversationLog log = ConversationLog.open(folder, 1 << 20, "test")) {
            log.append(reply("a", "c", "hi", "hello"));
            log.append(reply("b", "c", "bye", "hello", "hi", "go"));
        }
        Path first = ConversationLog.segments(folder).get(0);
        // A crash mid-write: half a record, no newline.
        Files.writeString(first, "{\"type\": \"reply\", \"id\": \"c\", \"conv", StandardOpenOption.APPEND);
        ServedLogs.Read read = ServedLogs.read(folder, OnBadRecord.FAIL);
        assertEquals(List.of("a", "b"), read.replies().stream().map(ServedLogs.Reply::id).toList());
        assertEquals(1, read.report().excluded().values().stream().mapToInt(Integer::intValue).sum());
        try (ConversationLog log = ConversationLog.open(folder, 1 << 20, "test")) {
            log.append(reply("d", "c2", "ok", "again"));
        }
        List<Path> segments = ConversationLog.segments(folder);
        assertEquals(2, segments.size(), "a restart appends to a new segment, never after a torn line");
        assertTrue(Files.readString(segments.get(1), StandardCharsets.UTF_8).endsWith("\n"));
        assertEquals(List.of("a", "b", "d"), ServedLogs.read(folder, OnBadRecord.FAIL).replies().stream()
                .map(ServedLogs.Reply::id).toList());
    }

    @Test
    void aStartThatWritesNothingLeavesNoSegment(@TempDir Path dir) throws Exception {
        Path folder = dir.resolve("log");
        ConversationLog.open(folder, 1 << 20, "test").close();
        assertEquals(List.of(), ConversationLog.segments(folder));
        assertTrue(ConversationLog.isLog(folder));
    }

    @Test
    void aDamagedRecordIsNamedAndAFolderOfOtherFilesRefused(@TempDir Path dir) throws Exception {
        Path folder = dir.resolve("log");
        try (ConversationLog log = ConversationLog.open(folder, 1 << 20, "test")) {
            log.append(reply("a", "c", "hi", "hello"));
        }
        Path segment = ConversationLog.segments(folder).get(0);
        Files.writeString(segment, "{\"type\": \"reply\", \"id\": 3}\n", StandardOpenOption.APPEND);
        BadRecordException e = assertThrows(BadRecordException.class, () -> ServedLogs.read(folder,
                OnBadRecord.FAIL));
        assertTrue(e.getMessage().startsWith(segment + ":line 2"), e.getMessage());
        Path other = Files.createDirectories(dir.resolve("other"));
        Files.writeString(other.resolve("notes.txt"), "mine");
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> ConversationLog.open(other, 1 << 20, "test"));
        assertTrue(refused.getMessage().contains("is not a drift serve log"), refused.getMessage());
    }
}
