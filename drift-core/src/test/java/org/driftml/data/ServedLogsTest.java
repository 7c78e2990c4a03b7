package org.driftml.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.driftml.text.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mining drift serve's log: the expected items are worked out by hand from the records below (which reply each user
 * turn judges, and which source labels it).
 */
class ServedLogsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static ObjectNode reply(String id, String conversation, String reply, String detected, String rule,
            Double precision, String... messages) {
        ObjectNode r = ConversationLogTest.reply(id, conversation, reply, messages);
        if (detected != null) {
            ObjectNode d = r.putObject("detector").put("label", detected);
            var rules = d.putArray("rules");
            if (rule != null) {
                ObjectNode hit = rules.addObject().put("rule", rule);
                if (precision == null) {
                    hit.putNull("precision");
                } else {
                    hit.put("precision", precision);
                }
            }
        }
        return r;
    }

    private static ObjectNode feedback(String response, String conversation, Object rating, String comment) {
        ObjectNode f = JSON.createObjectNode().put("type", "feedback").put("id", "fb").put("conversation",
                conversation);
        f.put("response_id", response);
        f.set("rating", JSON.valueToTree(rating));
        return f.put("comment", comment);
    }

    /**
     * Conversation A, a stateless client: r1 answers "2+2?" with "5"; the user says "That's wrong" (the detector's
     * DSAT, precision 0.9), r2 answers "4"; the user says "thanks" (SAT) and r3 replies "welcome". So r1 is a DSAT
     * item with feedback "That's wrong", and with r2 then SAT it is a seed pair (chosen "4", rejected "5").
     * A regenerated r2b branches from the same request: its turn is not counted twice.
     * Conversation B: r4 answers "capital of France?" with "Lyon", thumbs down with a comment, never answered; r5 in
     * conversation C gets a conversation-level 5 (SAT), and r6 in C says "no, that's not it" that the detector
     * labelled DSAT with a 0.4-precise rule only.
     */
    private static Path log(Path dir) throws Exception {
        Path folder = dir.resolve("log");
        try (ConversationLog log = ConversationLog.open(folder, 1 << 20, "test")) {
            log.append(reply("r1", "A", "5", null, null, null, "2+2?"));
            log.append(reply("r2", "A", "4", "DSAT", "aware-says-wrong", 0.9, "2+2?", "5", "That's wrong"));
            log.append(reply("r2b", "A", "four", "DSAT", "aware-says-wrong", 0.9, "2+2?", "5", "That's wrong"));
            log.append(reply("r3", "A", "welcome", "SAT", "thanks", 0.8, "2+2?", "5", "That's wrong", "4",
                    "thanks"));
            log.append(reply("r4", "B", "Lyon", null, null, null, "capital of France?"));
            log.append(feedback("r4", "B", "down", "It is Paris."));
            log.append(reply("r5", "C", "hello", null, null, null, "hi"));
            log.append(feedback(null, "C", 5, null));
            log.append(reply("r6", "C", "ok", "DSAT", "correct-leading-no", 0.4, "hi", "hello", "no, that's not it"));
        }
        return folder;
    }

    @Test
    void explicitFeedbackFirstThenTheDetectorEachTurnOnce(@TempDir Path dir) throws Exception {
        LogFormat.Mining m = ServedLogs.mine(log(dir), OnBadRecord.FAIL, 0, null);
        DsatMiner.Mined mined = m.mined();
        Map<String, Integer> c = mined.counts();
        assertEquals(3, c.get("conversations"));
        assertEquals(7, c.get("replies"));
        assertEquals(2, c.get("feedback records"));
        // A: "That's wrong" (detector DSAT), "thanks" (detector SAT); B: the thumbs-down (explicit DSAT);
        // C: "no, that's not it" judges r5, which the conversation-level 5 rated: explicit SAT wins.
        assertEquals(1, c.get("DSAT turns (explicit)"));
        assertEquals(1, c.get("DSAT turns (detector)"));
        assertEquals(1, c.get("SAT turns (explicit)"));
        assertEquals(1, c.get("SAT turns (detector)"));
        assertEquals(2, c.get("DSAT"));
        assertEquals(2, c.get("SAT"));
        // User turns: 2+2?, That's wrong, thanks, capital?, the thumbs-down's turn, hi, no that's not it.
        assertEquals(7, c.get("user turns"));
        assertEquals(List.of("r1", "r4"), mined.items().stream().map(DsatItem::id).toList());
        DsatItem r1 = mined.items().get(0);
        assertEquals(List.of(ChatMessage.user("2+2?")), r1.prompt());
        assertEquals("5", r1.rejected());
        assertEquals("That's wrong", r1.feedback());
        DsatItem r4 = mined.items().get(1);
        assertEquals("Lyon", r4.rejected());
        assertEquals("It is Paris.", r4.feedback());
        assertEquals(1, mined.seeds().size());
        assertEquals("4", mined.seeds().get(0).chosen());
        assertEquals("5", mined.seeds().get(0).rejected());
        assertEquals(List.of("r2", "r5"), mined.satisfying().stream().map(SatReply::id).toList());
    }

    @Test
    void aDetectorLabelBelowTheChosenPrecisionIsDropped(@TempDir Path dir) throws Exception {
        Path folder = log(dir);
        // At 0.95 neither detector rule (0.9, 0.8) counts: "That's wrong" and "thanks" become neutral.
        Map<String, Integer> high = ServedLogs.mine(folder, OnBadRecord.FAIL, 0.95, null).mined().counts();
        assertEquals(0, high.get("DSAT turns (detector)"));
        assertEquals(0, high.get("SAT turns (detector)"));
        assertEquals(1, high.get("DSAT turns (explicit)"));
        // The user's own measurement replaces the logged one: aware-says-wrong measured 1.0 on their sample.
        Map<String, Integer> own = ServedLogs.mine(folder, OnBadRecord.FAIL, 0.95,
                Map.of("aware-says-wrong", 1.0)).mined().counts();
        assertEquals(1, own.get("DSAT turns (detector)"));
        assertEquals(0, own.get("SAT turns (detector)"));
    }
}
