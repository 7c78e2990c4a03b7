package org.driftml.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import org.driftml.text.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WildFeedbackAnnotationsTest {
    // Two conversations in WildFeedback's flat sat_dsat_annotation rows; UtterranceId restarts at 0 for the second.
    // Conversation 1: request, reply, DSAT complaint, revised reply, SAT thanks -> one DSAT item and one seed pair.
    // Conversation 2: request, reply, DSAT (no revision follows), then a neutral turn.
    static final List<String> ROWS = List.of(
            row(0, 1, "User", "Write a haiku about rain.", false, false),
            row(1, 1, "Agent", "Rain falls on the roof.", false, false),
            row(2, 2, "User", "That's not a haiku, it needs 5-7-5 syllables.", "False", "Negative Feedback"),
            row(3, 2, "Agent", "Soft rain on the roof / whispers through the sleeping town / puddles hold the sky", false,
                    false),
            row(4, 3, "User", "Perfect, thanks!", "Gratitude", ""),
            row(0, 1, "User", "What is 17 * 23?", false, false),
            row(1, 1, "Agent", "17 * 23 = 381.", false, false),
            row(2, 2, "User", "wrong, check again", 0, 1),
            row(3, 2, "Agent", "17 * 23 = 391.", false, false),
            row(4, 3, "User", "ok and 18 * 23?", false, false));

    static String row(int utterance, int turn, String role, String content, Object sat, Object dsat) {
        return String.format("{\"UtterranceId\": %d, \"TurnId\": %d, \"Role\": \"%s\", \"Content\": %s, "
                + "\"Satisfaction\": %s, \"Disatisfaction\": %s}", utterance, turn, role, quote(content), json(sat),
                json(dsat));
    }

    static String quote(String s) {
        return "\"" + s.replace("\"", "\\\"") + "\"";
    }

    static String json(Object v) {
        return v instanceof String s ? quote(s) : String.valueOf(v);
    }

    @Test
    void rowsGroupIntoConversationsAndMineExactItemsAndSeeds(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("annotations.jsonl");
        Files.write(file, ROWS);
        var result = WildFeedbackAnnotations.read(file, OnBadRecord.FAIL);
        assertEquals(2, result.conversations().size());
        assertEquals(5, result.conversations().get(0).turns().size());
        assertEquals(file + ":line 1", result.conversations().get(0).source());
        assertEquals(file + ":line 6", result.conversations().get(1).source());
        assertEquals(Satisfaction.DSAT, result.conversations().get(0).turns().get(2).label());
        assertEquals(Satisfaction.SAT, result.conversations().get(0).turns().get(4).label());
        assertEquals(Satisfaction.NEUTRAL, result.conversations().get(1).turns().get(4).label());

        DsatMiner.Mined mined = DsatMiner.mine(result.conversations());
        assertEquals(2, mined.items().size());
        DsatItem first = mined.items().get(0);
        assertEquals(List.of(ChatMessage.user("Write a haiku about rain.")), first.prompt());
        assertEquals("Rain falls on the roof.", first.rejected());
        assertEquals("That's not a haiku, it needs 5-7-5 syllables.", first.feedback());
        assertEquals("conversation-1#2", first.id());
        DsatItem second = mined.items().get(1);
        assertEquals(List.of(ChatMessage.user("What is 17 * 23?")), second.prompt());
        assertEquals("17 * 23 = 381.", second.rejected());
        assertEquals("wrong, check again", second.feedback());

        // Only conversation 1's revision was then marked SAT: one seed pair, trained on x alone.
        assertEquals(1, mined.seeds().size());
        PreferencePair seed = mined.seeds().get(0);
        assertEquals(first.prompt(), seed.prompt());
        assertTrue(seed.chosen().startsWith("Soft rain on the roof"));
        assertEquals("Rain falls on the roof.", seed.rejected());
        // The SAT thanks marks the revision as satisfying, in the context that includes the complaint.
        assertEquals(1, mined.satisfying().size());
        assertEquals(seed.chosen(), mined.satisfying().get(0).reply());
        assertEquals(3, mined.satisfying().get(0).prompt().size());
        assertEquals(2, mined.counts().get("DSAT"));
        assertEquals(1, mined.counts().get("SAT"));
        assertEquals(3, mined.counts().get("neutral"));
    }

    @Test
    void aConversationIdColumnGroupsWhenPresent(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("annotations.jsonl");
        Files.write(file, List.of(
                "{\"conversation_id\": \"a\", \"UtterranceId\": 0, \"Role\": \"User\", \"Content\": \"hi\"}",
                "{\"conversation_id\": \"a\", \"UtterranceId\": 1, \"Role\": \"Agent\", \"Content\": \"hello\"}",
                "{\"conversation_id\": \"b\", \"UtterranceId\": 2, \"Role\": \"User\", \"Content\": \"x\"}"));
        var result = WildFeedbackAnnotations.read(file, OnBadRecord.FAIL);
        assertEquals(List.of("a", "b"), result.conversations().stream().map(Conversation::id).toList());
    }

    @Test
    void parquetReadsTheSameRowsThroughDuckDb(@TempDir Path dir) throws Exception {
        Path jsonl = dir.resolve("annotations.jsonl");
        Files.write(jsonl, ROWS);
        Path parquet = dir.resolve("annotations.parquet");
        // Write a real Parquet file with the embedded engine, typed as the dataset is (booleans for the flags).
        try (Connection c = LogFiles.duckdb(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t (UtterranceId BIGINT, TurnId BIGINT, Role VARCHAR, Content VARCHAR, "
                    + "Satisfaction BOOLEAN, Disatisfaction BOOLEAN)");
            var conversations = WildFeedbackAnnotations.read(jsonl, OnBadRecord.FAIL).conversations();
            int row = 0;
            for (Conversation conv : conversations) {
                int u = 0;
                for (Turn t : conv.turns()) {
                    st.execute(String.format("INSERT INTO t VALUES (%d, %d, '%s', '%s', %s, %s)", u, u / 2 + 1,
                            t.role() == Turn.Role.USER ? "User" : "Agent", t.content().replace("'", "''"),
                            t.label() == Satisfaction.SAT, t.label() == Satisfaction.DSAT));
                    u++;
                    row++;
                }
            }
            st.execute("COPY t TO " + LogFiles.sqlString(parquet) + " (FORMAT parquet)");
        }
        var fromParquet = WildFeedbackAnnotations.read(parquet, OnBadRecord.FAIL);
        var fromJsonl = WildFeedbackAnnotations.read(jsonl, OnBadRecord.FAIL);
        assertEquals(fromJsonl.conversations().stream().map(Conversation::turns).toList(),
                fromParquet.conversations().stream().map(Conversation::turns).toList());
        assertEquals(parquet + ":row 6", fromParquet.conversations().get(1).source());
        assertEquals(DsatMiner.mine(fromJsonl.conversations()).items().stream().map(DsatItem::feedback).toList(),
                DsatMiner.mine(fromParquet.conversations()).items().stream().map(DsatItem::feedback).toList());
    }

    @Test
    void everyBadRecordIsNamedOrSkippedAndCounted(@TempDir Path dir) throws Exception {
        String[][] cases = {
                {"{\"UtterranceId\": 0, \"Role\": \"User\", \"Content\": \"hi\"", "line 2: not valid JSON"},
                {"{\"Role\": \"User\", \"Content\": \"hi\"}", "line 2: field \"UtterranceId\": missing"},
                {"{\"UtterranceId\": \"x\", \"Role\": \"User\", \"Content\": \"hi\"}",
                        "line 2: field \"UtterranceId\": not an integer: \"x\""},
                {"{\"UtterranceId\": 1, \"Role\": \"Robot\", \"Content\": \"hi\"}",
                        "line 2: field \"Role\": expected User or Agent, got \"Robot\""},
                {"{\"UtterranceId\": 1, \"Role\": \"User\"}", "line 2: field \"Content\": missing"},
                {"{\"UtterranceId\": 1, \"Role\": \"User\", \"Content\": 7}", "line 2: field \"Content\": not a string"},
                {"{\"UtterranceId\": 1, \"Role\": \"User\", \"Content\": \"a\", \"Satisfaction\": {}}",
                        "line 2: field \"Satisfaction\": expected a boolean"},
                {"[1, 2]", "line 2: expected an object"},
        };
        String good = row(0, 1, "User", "hello", false, false);
        for (String[] c : cases) {
            Path file = dir.resolve("bad.jsonl");
            Files.write(file, List.of(good, c[0], row(1, 1, "Agent", "hi", false, false)));
            var e = assertThrows(BadRecordException.class, () -> WildFeedbackAnnotations.read(file, OnBadRecord.FAIL));
            assertTrue(e.getMessage().startsWith(file + ":" + c[1]), e.getMessage() + " vs " + c[1]);
            var skipped = WildFeedbackAnnotations.read(file, OnBadRecord.SKIP);
            assertEquals(1, skipped.report().skipped(), c[0]);
            assertEquals(3, skipped.report().records());
            assertEquals(2, skipped.conversations().get(0).turns().size(), c[0]);
            assertTrue(skipped.report().skipReasons().get(0).startsWith(file + ":" + c[1]));
        }
    }

    @Test
    void aJsonArrayNamesEachRecordByItsLine(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("annotations.json");
        Files.writeString(file, "[\n" + ROWS.get(0) + ",\n" + ROWS.get(1) + ",\n"
                + "{\"UtterranceId\": 2, \"Role\": \"User\"}\n]\n");
        var e = assertThrows(BadRecordException.class, () -> WildFeedbackAnnotations.read(file, OnBadRecord.FAIL));
        assertEquals(file + ":line 4 (record 3): field \"Content\": missing", e.getMessage());
        Files.writeString(file, "[\n" + ROWS.get(0) + ",\n{oops}\n]");
        var io = assertThrows(java.io.IOException.class, () -> WildFeedbackAnnotations.read(file, OnBadRecord.SKIP));
        assertTrue(io.getMessage().startsWith(file + ":line 3: not valid JSON"), io.getMessage());
    }

    @Test
    void aFolderReadsEveryLogFileInNameOrder(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("b.jsonl"), ROWS.subList(5, 10));
        Files.write(dir.resolve("a.jsonl"), ROWS.subList(0, 5));
        Files.writeString(dir.resolve("notes.txt"), "ignored");
        var result = WildFeedbackAnnotations.read(dir, OnBadRecord.FAIL);
        assertEquals(2, result.conversations().size());
        assertTrue(result.conversations().get(0).source().contains("a.jsonl"));
    }
}
