package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.driftml.data.ConversationLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code drift mine --logs} on a served log folder: found without --format, labels kept by the precision of the rule
 * behind them (as logged, or as measured on the user's own labelled sample), and its options refused when wrong.
 */
class MineServedLogTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A reply whose last user turn the detector labelled DSAT by {@code rule} at {@code precision}. */
    private static ObjectNode judged(String id, String conversation, String rule, double precision,
            String... messages) {
        ObjectNode r = JSON.createObjectNode().put("type", "reply").put("id", id).put("conversation", conversation)
                .put("reply", "ok");
        var list = r.putArray("messages");
        for (int i = 0; i < messages.length; i++) {
            list.addObject().put("role", i % 2 == 0 ? "user" : "assistant").put("content", messages[i]);
        }
        ObjectNode d = r.putObject("detector").put("label", "DSAT");
        d.putArray("rules").addObject().put("rule", rule).put("precision", precision);
        return r;
    }

    /**
     * Two conversations, each with one DSAT turn: one by a 1.0-precise rule, one by a 0.75-precise rule. The replies
     * they judge were not served by this log (the clients brought them), so each item is named by the request the
     * complaint arrived in and the turn's place: r1#2, r2#2.
     */
    private static Path log(Path dir) throws Exception {
        Path folder = dir.resolve("log");
        try (ConversationLog log = ConversationLog.open(folder, 1 << 20, "test")) {
            log.append(judged("r1", "A", "aware-says-wrong", 1.0, "2+2?", "5", "That's wrong"));
            log.append(judged("r2", "B", "correct-leading-no", 0.75, "Capital of France?", "Lyon", "No, Paris."));
        }
        return folder;
    }

    private static int detectorDsat(CliRun run) {
        Matcher m = Pattern.compile("DSAT turns \\(detector\\) +(\\d+)").matcher(run.out());
        assertTrue(m.find(), run.out() + run.err());
        return Integer.parseInt(m.group(1));
    }

    private static String dsat(Path mined) throws Exception {
        return Files.readString(mined.resolve("dsat.jsonl"));
    }

    @Test
    void aServedLogIsMinedByItselfAndItsLabelsByTheirRulesPrecision(@TempDir Path dir) throws Exception {
        Path log = log(dir);
        CliRun all = CliRun.of("", "mine", "--logs", log.toString(), "--output", dir.resolve("all").toString());
        assertEquals(0, all.code(), all.err());
        assertEquals(2, detectorDsat(all));
        assertTrue(all.out().matches("(?s).*DSAT items +2\\b.*"), all.out());
        CliRun strict = CliRun.of("", "mine", "--logs", log.toString(), "--output", dir.resolve("strict").toString(),
                "--min-rule-precision", "0.9");
        assertEquals(0, strict.code(), strict.err());
        assertEquals(1, detectorDsat(strict));
        String strictItems = dsat(dir.resolve("strict"));
        assertTrue(strictItems.contains("\"r1#2\"") && !strictItems.contains("\"r2#2\""), strictItems);
        // On the user's own sample correct-leading-no is right every time it fires: its label counts again.
        Path sample = dir.resolve("sample.jsonl");
        Files.writeString(sample, String.join("\n",
                "{\"ConversationId\": \"s\", \"UtterranceId\": 0, \"Role\": \"User\", \"Content\": \"Train to Ely?\","
                        + " \"Satisfaction\": false, \"Disatisfaction\": false}",
                "{\"ConversationId\": \"s\", \"UtterranceId\": 1, \"Role\": \"Agent\", \"Content\": \"It leaves for "
                        + "London at 9.\", \"Satisfaction\": false, \"Disatisfaction\": false}",
                "{\"ConversationId\": \"s\", \"UtterranceId\": 2, \"Role\": \"User\", \"Content\": \"No, to Ely.\","
                        + " \"Satisfaction\": false, \"Disatisfaction\": \"correct\"}") + "\n");
        CliRun own = CliRun.of("", "mine", "--logs", log.toString(), "--output", dir.resolve("own").toString(),
                "--min-rule-precision", "0.9", "--rule-precision-from", sample.toString());
        assertEquals(0, own.code(), own.err());
        assertEquals(1, detectorDsat(own), "aware-says-wrong never fired on the sample: unmeasured, so left out");
        String ownItems = dsat(dir.resolve("own"));
        assertTrue(ownItems.contains("\"r2#2\"") && !ownItems.contains("\"r1#2\""), ownItems);
        assertTrue(own.out().contains("correct-leading-no"), own.out());
    }

    @Test
    void itsOptionsAreRefusedWhenWrong(@TempDir Path dir) throws Exception {
        Path log = log(dir);
        CliRun range = CliRun.of("", "mine", "--logs", log.toString(), "--output", dir.resolve("o").toString(),
                "--min-rule-precision", "2");
        assertEquals(2, range.code());
        assertTrue(range.err().startsWith("drift mine: --min-rule-precision must be in [0, 1]"), range.err());
        CliRun other = CliRun.of("", "mine", "--logs", Path.of("data/detector/dev.jsonl").toString(), "--output",
                dir.resolve("p").toString(), "--min-rule-precision", "0.5");
        assertEquals(2, other.code());
        assertTrue(other.err().contains("apply to drift serve's logs"), other.err());
    }
}
