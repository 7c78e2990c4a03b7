package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The rule detector on the labelled dialogs shipped in {@code data/detector} (issue 16), through {@code drift mine
 * --evaluate-detector}: DSAT precision at least 0.5 (a false DSAT turn teaches the model to avoid a good reply) and
 * F1 at least 0.5, on the development part and on the held-out one, and every rule that fires at least 0.5 precise.
 */
class DetectorEvaluationTest {
    private static final Pattern OVERALL = Pattern.compile("DSAT precision ([0-9.]+) recall ([0-9.]+) F1 ([0-9.]+)");
    private static final Pattern RULE = Pattern.compile("^ {2}([a-z-]+) +(\\d+) +(\\d+) +([0-9.]+)$",
            Pattern.MULTILINE);

    /** The committed rows are the dialogs' source, converted (scripts/detector/to_wildfeedback.py): not stale. */
    @ParameterizedTest
    @ValueSource(strings = {"dev", "heldout", "alarms-dev", "alarms-heldout"})
    void theRowsAreTheirSourceConverted(String part) throws Exception {
        List<String> source = Files.readAllLines(Path.of("data/detector/" + part + ".txt"));
        List<String> rows = Files.readAllLines(Path.of("data/detector/" + part + ".jsonl"));
        ObjectMapper json = new ObjectMapper();
        int row = 0;
        String conversation = null;
        for (String line : source) {
            if (line.isEmpty() || line.startsWith("# ")) {
                continue;
            }
            if (line.startsWith("## ")) {
                conversation = line.substring(3).strip();
                continue;
            }
            Matcher m = Pattern.compile("^(A|U|U\\+|U!(\\w+)): (.*)$").matcher(line);
            assertTrue(m.matches(), part + ".txt: " + line);
            JsonNode r = json.readTree(rows.get(row++));
            assertEquals(conversation, r.get("ConversationId").asText(), line);
            assertEquals(m.group(1).equals("A") ? "Agent" : "User", r.get("Role").asText(), line);
            assertEquals(m.group(3).replace("\\n", "\n"), r.get("Content").asText(), line);
            assertEquals(m.group(1).equals("U+"), r.get("Satisfaction").asBoolean(), line);
            assertEquals(m.group(2) == null ? "false" : m.group(2), r.get("Disatisfaction").asText(), line);
        }
        assertEquals(rows.size(), row, "rows beyond the source");
    }

    /** {@code drift mine --evaluate-detector} on one part of the labelled dialogs. */
    private static CliRun evaluate(String part, Path dir) {
        CliRun run = CliRun.of("", "mine", "--logs", Path.of("data/detector/" + part + ".jsonl").toString(),
                "--output", dir.resolve("mined").toString(), "--evaluate-detector");
        assertEquals(0, run.code(), run.err());
        return run;
    }

    /**
     * Issue 31: on dialogs of the kinds that raised false alarms on real human dialogs (declining an offer, asking
     * what a new term means, placeholder turns, chit-chat negation) mixed with real complaints, DSAT precision at
     * least 0.7 with recall at least 0.6, on the development part and on the held-out one.
     */
    @ParameterizedTest
    @ValueSource(strings = {"alarms-dev", "alarms-heldout"})
    void falseAlarmKindsStayQuiet(String part, @TempDir Path dir) {
        Matcher m = OVERALL.matcher(evaluate(part, dir).out());
        assertTrue(m.find());
        assertTrue(Double.parseDouble(m.group(1)) >= 0.7, part + ": " + m.group(0));
        assertTrue(Double.parseDouble(m.group(2)) >= 0.6, part + ": " + m.group(0));
    }

    /** The precision drift serve logs with each rule is the held-out parts' table as it stands (not stale). */
    @org.junit.jupiter.api.Test
    void theLoggedRulePrecisionsAreTheHeldOutTable(@TempDir Path dir) throws Exception {
        Path both = Files.createDirectories(dir.resolve("heldout"));
        for (String part : List.of("heldout", "alarms-heldout")) {
            Files.copy(Path.of("data/detector/" + part + ".jsonl"), both.resolve(part + ".jsonl"));
        }
        CliRun run = CliRun.of("", "mine", "--logs", both.toString(), "--output", dir.resolve("mined").toString(),
                "--evaluate-detector");
        Matcher rules = RULE.matcher(run.out());
        org.driftml.labelling.DissatisfactionDetector detector = org.driftml.labelling.DissatisfactionDetector
                .defaults();
        int checked = 0;
        while (rules.find()) {
            double measured = Double.parseDouble(rules.group(3)) / Double.parseDouble(rules.group(2));
            assertEquals(measured, detector.precision(rules.group(1)), 1e-9, rules.group(0));
            checked++;
        }
        assertTrue(checked >= 10, run.out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"dev", "heldout"})
    void theRulesArePreciseAndFindMostComplaints(String part, @TempDir Path dir) {
        CliRun run = evaluate(part, dir);
        Matcher m = OVERALL.matcher(run.out());
        assertTrue(m.find(), run.out());
        double precision = Double.parseDouble(m.group(1)), f1 = Double.parseDouble(m.group(3));
        System.out.printf("detector on %s: precision %s recall %s F1 %s%n", part, m.group(1), m.group(2), m.group(3));
        assertTrue(precision >= 0.5, part + ": precision " + precision);
        assertTrue(f1 >= 0.5, part + ": F1 " + f1);
        Matcher rules = RULE.matcher(run.out());
        int checked = 0;
        while (rules.find()) {
            String rule = rules.group(1);
            boolean dsat = rule.matches("(repeat|correct|aware|clarify)-.*");
            if (dsat && part.equals("dev")) {  // tuned there: every DSAT rule that fires must be right half the time
                assertTrue(Double.parseDouble(rules.group(4)) >= 0.5, rule + " on " + part + ": " + rules.group(0));
                checked++;
            }
        }
        assertTrue(!part.equals("dev") || checked >= 8, "rules read from the table: " + checked + "\n" + run.out());
    }
}
