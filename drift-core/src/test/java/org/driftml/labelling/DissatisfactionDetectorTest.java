package org.driftml.labelling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.driftml.labelling.DissatisfactionDetector;
import org.driftml.data.Conversation;
import org.driftml.data.Satisfaction;
import org.driftml.data.Turn;

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
        assertEquals(List.of("correct-leading-no", "aware-says-wrong"), d.judge("No, that's wrong.", null)
                .firedRules());
        assertEquals(List.of("thanks"), d.judge("thanks a lot", null).firedRules());
        assertEquals(Satisfaction.NEUTRAL, d.judge("And what about Paris?", null).label());
        assertEquals(List.of("repeats-request"),
                d.judge("write a haiku about the rain please", "please write a haiku about the rain").firedRules());
        assertEquals(Satisfaction.NEUTRAL, d.without("repeats-request")
                .judge("write a haiku about the rain please", "please write a haiku about the rain").label());
        var custom = d.withRule(DissatisfactionDetector.Rule.of("meh", "\\bmeh\\b"), true);
        assertEquals(List.of("meh"), custom.judge("meh.", null).firedRules());
    }

    /** The turn in its context: the system's turn before, quotes, and what the user negates. */
    @Test
    void rulesReadTheTurnInContext() {
        var d = DissatisfactionDetector.defaults();
        // A "no" that answers the system's question is an answer; after a statement it corrects it.
        assertEquals(Satisfaction.SAT, d.judge("No, that's all, thanks.", null, "Anything else I can help with?")
                .label());
        assertEquals(List.of("correct-leading-no"), d.judge("No, it's 12.", null, "15% of 80 is 10.").firedRules());
        // Quoted text is the user naming something, not saying it.
        assertEquals(Satisfaction.NEUTRAL, d.judge("Is \"that's wrong\" a good song title?", null, "Sure.").label());
        // "X, not Y" corrects only what the system said.
        assertEquals(List.of("correct-not-this"), d.judge("Sunday, not Saturday.", null, "We open at 9 on Saturday.")
                .firedRules());
        assertEquals(Satisfaction.NEUTRAL, d.judge("June then, not May.", null, "June is warmer.").label());
        // Negation: saying the reply is not wrong is not saying it is.
        for (String fine : List.of("It's not wrong, just long.", "There's nothing wrong with it.",
                "You didn't do anything wrong, it's fine.", "No problem, that works.")) {
            assertNotEquals(Satisfaction.DSAT, d.judge(fine, null, "Here it is.").label(), fine);
        }
        // Checking what the system said is not complaining about it.
        assertEquals(Satisfaction.NEUTRAL, d.judge("You said you like hiking, right?", null, "I do.").label());
        assertEquals(List.of("aware-you-said"), d.judge("you just said you walked your dog", null, "I have no pets.")
                .firedRules());
        // Asking what the system means, or why it said that.
        assertEquals(List.of("clarify-what-mean"), d.judge("what are you talking about", null, "I like autumn.")
                .firedRules());
        assertEquals(Satisfaction.NEUTRAL, d.judge("But what about a cake?", null, "That covers food.").label());
        assertEquals(List.of("repeat-but-which"), d.judge("Yes but which month?", null, "It ended in 1945.")
                .firedRules());
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
        assertEquals(0, e.perRule().get("correct-leading-no")[1]);  // the false alarm is the leading "No"
        assertEquals(List.of("b: No, I also need the date [correct-leading-no]"), e.falseAlarms());
        assertEquals(List.of("b: hmm, maybe shorter sentences"), e.misses());

        // Relabelling unlabelled logs: the first user turn is never judged.
        Conversation relabelled = DissatisfactionDetector.defaults().label(labelled.get(0));
        assertEquals(List.of(Satisfaction.NEUTRAL, Satisfaction.DSAT, Satisfaction.SAT),
                relabelled.turns().stream().filter(t -> t.role() == Turn.Role.USER).map(Turn::label).toList());
    }
}
