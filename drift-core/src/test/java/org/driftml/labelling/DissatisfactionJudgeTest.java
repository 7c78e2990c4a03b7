package org.driftml.labelling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import org.driftml.output.Progress;
import org.driftml.model.Policy;
import org.driftml.model.spec.Precision;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.driftml.labelling.DissatisfactionDetector;
import org.driftml.labelling.DissatisfactionJudge;
import org.driftml.data.Conversation;
import org.driftml.data.Satisfaction;
import org.driftml.data.Turn;

/**
 * The LLM judge's plumbing (issue 16): the question it asks, how its answer is read, the cache that lets a run
 * resume, rules first. Its quality needs a real chat model, which is not here: the tiny fixture answers noise, so
 * every verdict is unparsed, and that is what these tests check is counted and never guessed.
 */
class DissatisfactionJudgeTest {
    private static List<Conversation> logs() {
        return List.of(
                new Conversation("a", List.of(Turn.user("2+2?"), Turn.assistant("5"), Turn.user("that's wrong"),
                        Turn.assistant("4"), Turn.user("and 3+3?"), Turn.assistant("6"), Turn.user("thanks")), "a"),
                new Conversation("b", List.of(Turn.user("hi"), Turn.assistant("Do you like cats?"),
                        Turn.user("No, dogs.")), "b"));
    }

    @Test
    void aVerdictIsReadOnlyWhenItIsThere() {
        assertEquals(Optional.of(new DissatisfactionJudge.Verdict(true, "The user corrects the time.")),
                DissatisfactionJudge.parse("Verdict: DISSATISFIED\nReason: The user corrects the time."));
        assertEquals(Optional.of(new DissatisfactionJudge.Verdict(false, "They answer a question.")),
                DissatisfactionJudge.parse("**Verdict:** NOT DISSATISFIED\n**Reason:** They answer a question."));
        assertEquals(Optional.of(new DissatisfactionJudge.Verdict(false, "")),
                DissatisfactionJudge.parse("verdict: not dissatisfied"));
        assertEquals(Optional.empty(), DissatisfactionJudge.parse("I think the user is happy."));
        assertEquals(Optional.empty(), DissatisfactionJudge.parse("Verdict: maybe\nReason: unclear"));
    }

    @Test
    void theQuestionShowsTheLastTurnsTheJudgedOneAndTheRubric() {
        List<Turn> before = List.of(Turn.user("one"), Turn.assistant("two"), Turn.user("three"),
                Turn.assistant("four"), Turn.user("five"), Turn.assistant("six\nlines"));
        String q = DissatisfactionJudge.prompt(before, "that's wrong");
        assertFalse(q.contains("[User]: one"), q);  // only the last four turns
        assertFalse(q.contains("[System]: two"), q);
        assertTrue(q.contains("[User]: three\n[System]: four\n[User]: five\n[System]: six lines\n"
                + "[User, the message to judge]: that's wrong"), q);
        assertTrue(q.contains("- asks what the system means, or why it said that;"), q);
        assertTrue(q.endsWith("Verdict: DISSATISFIED or NOT DISSATISFIED\nReason: one short sentence"), q);
    }

    @Test
    void unparsedVerdictsAreCountedCachedAndAskedOnlyOnce(@TempDir Path dir) throws Exception {
        Path model = Path.of(getClass().getResource("/parity/tiny-qwen2-chat").toURI());
        Path cache = dir.resolve(DissatisfactionJudge.CACHE_FILE);
        try (Policy tiny = Policy.load(model, Precision.FP32)) {
            DissatisfactionJudge judge = new DissatisfactionJudge(tiny, 2, 8);
            // The judge alone: the 4 user turns after a system turn are asked about; noise answers parse to nothing.
            DissatisfactionJudge.Outcome first = judge.label(logs(), null, cache, Progress.SILENT);
            assertEquals(4, first.judged());
            assertEquals(0, first.fromCache());
            assertEquals(4, first.unparsed());
            assertEquals(0, first.dissatisfied());
            assertEquals(4, Files.readAllLines(cache).size());
            for (Conversation c : first.labelled()) {  // nothing guessed: every user turn neutral
                c.turns().stream().filter(t -> t.role() == Turn.Role.USER)
                        .forEach(t -> assertEquals(Satisfaction.NEUTRAL, t.label(), t.content()));
            }
            // Again: every verdict from the cache, nothing appended.
            DissatisfactionJudge.Outcome again = judge.label(logs(), null, cache, Progress.SILENT);
            assertEquals(4, again.fromCache());
            assertEquals(4, Files.readAllLines(cache).size());
            // A kill that tore the last line: that turn is asked again, the others come from the cache.
            List<String> lines = Files.readAllLines(cache);
            Files.writeString(cache, String.join("\n", lines.subList(0, 3)) + "\n" + lines.get(3).substring(0, 20),
                    StandardCharsets.UTF_8);
            DissatisfactionJudge.Outcome resumed = judge.label(logs(), null, cache, Progress.SILENT);
            assertEquals(3, resumed.fromCache());
            assertEquals(lines, Files.readAllLines(cache));  // greedy: the same answer, the torn line replaced
            // Rules first: "that's wrong" (DSAT) and "thanks" (SAT) are the rules'; the judge gets the other two.
            Files.writeString(cache, "", StandardOpenOption.TRUNCATE_EXISTING);
            DissatisfactionJudge.Outcome rules = judge.label(logs(), DissatisfactionDetector.defaults(), cache, Progress.SILENT);
            assertEquals(2, rules.judged());
            List<Satisfaction> a = rules.labelled().get(0).turns().stream().filter(t -> t.role() == Turn.Role.USER)
                    .map(Turn::label).toList();
            assertEquals(List.of(Satisfaction.NEUTRAL, Satisfaction.DSAT, Satisfaction.NEUTRAL, Satisfaction.SAT), a);
        }
    }
}
