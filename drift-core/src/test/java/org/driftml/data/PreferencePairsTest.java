package org.driftml.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.driftml.text.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PreferencePairsTest {
    static final String CONVERSATIONAL = "{\"prompt\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
            + " {\"role\": \"user\", \"content\": \"Capital of France?\"}],"
            + " \"chosen\": [{\"role\": \"assistant\", \"content\": \"Paris.\"}],"
            + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"Lyon.\"}], \"id\": 7, \"feedback\": \"wrong city\"}";
    static final String PLAIN = "{\"prompt\": \"2+2=\", \"chosen\": \"4\", \"rejected\": \"5\"}";

    @Test
    void readsBothTrlFormatsKeepingMetadata(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("pairs.jsonl");
        Files.writeString(file, CONVERSATIONAL + "\n\n" + PLAIN + "\n");
        List<PreferencePair> pairs = PreferencePairs.read(file);
        assertEquals(2, pairs.size());
        PreferencePair c = pairs.get(0);
        assertTrue(c.conversational());
        assertEquals(List.of(ChatMessage.system("Be brief."), ChatMessage.user("Capital of France?")), c.prompt());
        assertEquals("Paris.", c.chosen());
        assertEquals("Lyon.", c.rejected());
        assertEquals(7, c.metadata().get("id"));
        assertEquals("wrong city", c.metadata().get("feedback"));
        PreferencePair p = pairs.get(1);
        assertFalse(p.conversational());
        assertEquals("2+2=", p.promptText());
    }

    @Test
    void writtenRecordsReadBackEqual() throws IOException {
        for (String line : new String[] {CONVERSATIONAL, PLAIN}) {
            PreferencePair pair = PreferencePairs.parse(line, "x");
            StringWriter out = new StringWriter();
            PreferencePairs.append(out, pair);
            assertTrue(out.toString().endsWith("\n"));
            assertEquals(pair, PreferencePairs.parse(out.toString().strip(), "y"));
        }
    }

    @Test
    void malformedPairsNameTheirFileAndLine(@TempDir Path dir) throws IOException {
        String[][] cases = {
            {"{\"prompt\": \"a\", \"chosen\": \"b\"}", "pairs.jsonl:2: missing field \"rejected\""},
            {"{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"", "pairs.jsonl:2: not valid JSON"},
            {"{\"prompt\": [], \"chosen\": [], \"rejected\": []}", "pairs.jsonl:2: \"prompt\" must be a string or a non-empty list"},
            {"{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"chosen\": [{\"role\": \"user\", \"content\": \"a\"}],"
                    + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"b\"}]}",
                "pairs.jsonl:2: chosen[0] has role \"user\", expected \"assistant\""},
            {"{\"prompt\": \"q\", \"chosen\": [1], \"rejected\": \"b\"}", "pairs.jsonl:2: \"chosen\" must be a string when"},
            {"[1, 2]", "pairs.jsonl:2: a pair must be a JSON object"},
        };
        for (String[] c : cases) {
            Path file = dir.resolve("pairs.jsonl");
            Files.writeString(file, PLAIN + "\n" + c[0] + "\n");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PreferencePairs.read(file));
            assertTrue(e.getMessage().startsWith(file + ":2: "), e.getMessage());
            assertTrue(e.getMessage().contains(c[1]), () -> "expected '" + c[1] + "' in: " + e.getMessage());
        }
    }
}
