package org.driftml.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.driftml.text.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PreferenceRecordsTest {
    @Test
    void wildFeedbackPreferencesMapRolesAndSkipIdenticalPairs(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("wildfeedback.jsonl");
        Files.write(file, List.of(
                "{\"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}, {\"from\": \"gpt\", \"value\": \"hello\"},"
                        + " {\"from\": \"human\", \"value\": \"a poem?\"}], \"chosen\": {\"from\": \"gpt\", \"value\": "
                        + "\"Roses...\"}, \"rejected\": {\"from\": \"gpt\", \"value\": \"No.\"}}",
                "{\"conversations\": [{\"from\": \"human\", \"value\": \"x\"}], \"chosen\": {\"from\": \"gpt\", "
                        + "\"value\": \"same\"}, \"rejected\": {\"from\": \"gpt\", \"value\": \"same\"}}",
                "{\"conversations\": [{\"from\": \"human\", \"value\": \"x\"}], \"chosen\": {\"from\": \"gpt\", "
                        + "\"value\": \"a\"}}"));
        var e = assertThrows(BadRecordException.class, () -> WildFeedbackPreferences.read(file, OnBadRecord.FAIL));
        assertEquals(file + ":line 3: field \"rejected\": missing", e.getMessage());
        var result = WildFeedbackPreferences.read(file, OnBadRecord.SKIP);
        assertEquals(1, result.pairs().size());
        assertEquals(List.of(ChatMessage.user("hi"), ChatMessage.assistant("hello"), ChatMessage.user("a poem?")),
                result.pairs().get(0).prompt());
        assertEquals("Roses...", result.pairs().get(0).chosen());
        assertEquals("No.", result.pairs().get(0).rejected());
        assertEquals(1, result.report().excluded().get(WildFeedbackPreferences.IDENTICAL));
        assertEquals(1, result.report().skipped());
    }

    @Test
    void driftDsatRecordsGiveItems(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("dsat.jsonl");
        Files.write(file, List.of(
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"Sum 2 and 2\"}], \"rejected\": [{\"role\": "
                        + "\"assistant\", \"content\": \"5\"}], \"user_preference\": {\"content\": \"that's wrong\"}}",
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}],"
                        + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"b\"}], \"user_preference\": "
                        + "{\"content\": \"no\"}}",
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"rejected\": [{\"role\": \"user\", "
                        + "\"content\": \"b\"}], \"user_preference\": {\"content\": \"no\"}}",
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"rejected\": [{\"role\": \"assistant\", "
                        + "\"content\": \"b\"}]}"));
        var result = DsatRecords.read(file, OnBadRecord.SKIP);
        assertEquals(1, result.items().size());
        DsatItem item = result.items().get(0);
        assertEquals(List.of(ChatMessage.user("Sum 2 and 2")), item.prompt());
        assertEquals("5", item.rejected());
        assertEquals("that's wrong", item.feedback());
        assertEquals(3, result.report().skipped());
        assertEquals(List.of(
                file + ":line 2: field \"prompt\": must end with a user message (the request the rejected reply answers)",
                file + ":line 3: field \"rejected[0]\": expected an assistant message, got role \"user\"",
                file + ":line 4: field \"user_preference\": missing"), result.report().skipReasons());
    }

    @Test
    void ultraFeedbackScoredAndBinarized(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ultra.jsonl");
        Files.write(file, List.of(
                "{\"instruction\": \"Name a colour\", \"completions\": [{\"response\": \"Blue\", \"overall_score\": 8},"
                        + " {\"response\": \"Cat\", \"overall_score\": 2}, {\"response\": \"Red\", \"overall_score\": 7}]}",
                "{\"prompt\": \"Tie\", \"completions\": [{\"response\": \"a\", \"overall_score\": 5}, {\"response\": "
                        + "\"b\", \"overall_score\": 5}]}",
                "{\"prompt\": \"2+2\", \"chosen\": [{\"role\": \"user\", \"content\": \"2+2\"}, {\"role\": "
                        + "\"assistant\", \"content\": \"4\"}], \"rejected\": [{\"role\": \"user\", \"content\": "
                        + "\"2+2\"}, {\"role\": \"assistant\", \"content\": \"5\"}], \"score_chosen\": 9, "
                        + "\"score_rejected\": 1}",
                "{\"prompt\": \"x\", \"completions\": [{\"response\": \"a\"}, {\"response\": \"b\", "
                        + "\"overall_score\": 1}]}"));
        var result = UltraFeedbackRecords.read(file, OnBadRecord.SKIP);
        assertEquals(3, result.prompts().size());
        assertEquals(2, result.pairs().size());
        assertEquals("Blue", result.pairs().get(0).chosen());
        assertEquals("Cat", result.pairs().get(0).rejected());
        assertEquals("4", result.pairs().get(1).chosen());
        assertEquals("5", result.pairs().get(1).rejected());
        assertEquals(1, result.report().excluded().get(UltraFeedbackRecords.TIED));
        assertEquals(List.of(file + ":line 4: field \"completions[0].overall_score\": missing or not a number "
                + "(and no fine-grained_score or ratings)"),
                result.report().skipReasons());
    }

    @Test
    void ultraFeedbackImplicitPromptAndRatings(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("uf.jsonl");
        String user = "{\"role\": \"user\", \"content\": \"Hi\"}";
        Files.write(file, List.of(
                // TRL's implicit prompt: chosen and rejected are whole conversations, the prompt what precedes.
                "{\"chosen\": [" + user + ", {\"role\": \"assistant\", \"content\": \"Hello!\"}], \"rejected\": ["
                        + user + ", {\"role\": \"assistant\", \"content\": \"Go away\"}]}",
                "{\"chosen\": [" + user + ", {\"role\": \"assistant\", \"content\": \"a\"}], \"rejected\": ["
                        + "{\"role\": \"user\", \"content\": \"Other\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}",
                // openbmb: fine-grained_score first (3 < 4 here though overall says otherwise).
                "{\"instruction\": \"Q\", \"completions\": [{\"response\": \"low\", \"fine-grained_score\": 3, "
                        + "\"overall_score\": 10}, {\"response\": \"high\", \"fine-grained_score\": 4, "
                        + "\"overall_score\": 1}]}"));
        var result = UltraFeedbackRecords.read(file, OnBadRecord.SKIP);
        assertEquals(2, result.pairs().size());
        assertEquals(List.of(ChatMessage.user("Hi")), result.pairs().get(0).prompt());
        assertEquals("Hello!", result.pairs().get(0).chosen());
        assertEquals("Go away", result.pairs().get(0).rejected());
        assertEquals("high", result.pairs().get(1).chosen());
        assertEquals(1, result.report().skipped());
        assertTrue(result.report().skipReasons().get(0).contains("line 2: field \"rejected\": its conversation "
                + "before the reply differs from chosen's"), result.report().skipReasons().toString());
    }

    @Test
    void satisfyingRepliesInTheShapesTrlReads(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("sat.jsonl");
        String user = "{\"role\": \"user\", \"content\": \"Hi\"}";
        Files.write(file, List.of(
                "{\"id\": \"s1\", \"prompt\": [" + user + "], \"chosen\": [{\"role\": \"assistant\", "
                        + "\"content\": \"Hello\"}]}",
                "{\"prompt\": \"Hi\", \"completion\": \"Hey\"}",
                "{\"messages\": [" + user + ", {\"role\": \"assistant\", \"content\": \"Yo\"}]}",
                "{\"messages\": [" + user + "]}",
                "{\"prompt\": [{\"role\": \"assistant\", \"content\": \"x\"}], \"chosen\": \"y\"}",
                "{\"prompt\": [" + user + "]}"));
        var result = SatRecords.read(file, OnBadRecord.SKIP);
        assertEquals(List.of("Hello", "Hey", "Yo"), result.replies().stream().map(SatReply::reply).toList());
        assertEquals(List.of("s1", "sat-2", "sat-3"), result.replies().stream().map(SatReply::id).toList());
        result.replies().forEach(r -> assertEquals(List.of(ChatMessage.user("Hi")), r.prompt()));
        assertEquals(3, result.report().skipped());
        assertTrue(result.report().skipReasons().get(2).contains("field \"chosen\": missing"),
                result.report().skipReasons().toString());
        assertThrows(BadRecordException.class, () -> SatRecords.read(file, OnBadRecord.FAIL));
    }
}
