package org.driftml.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class DissatisfactionDetectorTest {
    static Conversation conv(String id, Object... turns) {
        List<Turn> out = new java.util.ArrayList<>();
        for (int i = 0; i < turns.length; i += 2) {
            String text = (String) turns[i];
            Satisfaction label = (Satisfaction) turns[i + 1];
            out.add(i % 4 == 0 ? Turn.user(text, label) : Turn.assistant(text));
        }
        return new Conversation(id, out, id);
    }

    @Test
    void rulesAreVisibleAndEachDecisionNamesWhatFired() {
        var d = DissatisfactionDetector.defaults();
        assertEquals(Satisfaction.DSAT, d.judge("No, that's wrong.", null).label());
        assertEquals(List.of("says-wrong", "leading-no"), d.judge("No, that's wrong.", null).firedRules());
        assertEquals(List.of("thanks"), d.judge("thanks a lot", null).firedRules());
        assertEquals(Satisfaction.NEUTRAL, d.judge("And what about Paris?", null).label());
        assertEquals(List.of("repeats-request"),
                d.judge("write a haiku about the rain please", "please write a haiku about the rain").firedRules());
        assertEquals(Satisfaction.NEUTRAL, d.without("repeats-request")
                .judge("write a haiku about the rain please", "please write a haiku about the rain").label());
        var custom = d.withRule(DissatisfactionDetector.Rule.of("meh", "\\bmeh\\b"), true);
        assertEquals(List.of("meh"), custom.judge("meh.", null).firedRules());
    }

    @Test
    void evaluationCountsAgainstGoldLabels() {
        // Gold: 3 DSAT turns (one implicit, which the rules miss), 2 SAT, 2 neutral (one a false alarm: "No, ...").
        var labelled = List.of(
                conv("a", "q1", Satisfaction.NEUTRAL, "r1", null, "that's wrong", Satisfaction.DSAT, "r2", null,
                        "great, thanks", Satisfaction.SAT),
                conv("b", "q2", Satisfaction.NEUTRAL, "r1", null, "hmm, maybe shorter sentences", Satisfaction.DSAT,
                        "r2", null, "No, I also need the date", Satisfaction.NEUTRAL),
                conv("c", "q3", Satisfaction.NEUTRAL, "r1", null, "you forgot the title", Satisfaction.DSAT, "r2",
                        null, "perfect", Satisfaction.SAT, "r3", null, "and in French?", Satisfaction.NEUTRAL));
        var e = DissatisfactionDetector.defaults().evaluate(labelled);
        assertEquals(7, e.turns());
        assertEquals(2, e.truePositives());
        assertEquals(1, e.falsePositives());
        assertEquals(1, e.falseNegatives());
        assertEquals(2.0 / 3, e.precision(), 1e-12);
        assertEquals(2.0 / 3, e.recall(), 1e-12);
        assertEquals(1.0, e.satPrecision(), 1e-12);
        assertEquals(1.0, e.satRecall(), 1e-12);
        assertEquals(0, e.perRule().get("leading-no")[1]);  // the false alarm is the leading "No"

        // Relabelling unlabelled logs: the first user turn is never judged.
        Conversation relabelled = DissatisfactionDetector.defaults().label(labelled.get(0));
        assertEquals(List.of(Satisfaction.NEUTRAL, Satisfaction.DSAT, Satisfaction.SAT),
                relabelled.turns().stream().filter(t -> t.role() == Turn.Role.USER).map(Turn::label).toList());
    }
}
