package org.driftml.quickstart;

import java.util.Random;
import org.driftml.data.Satisfaction;

/**
 * A user of the simulated deployment: when a reply misses a constraint they say what is wrong, in words the policy
 * can use ("That does not end with e."); when it meets every constraint they sometimes say thanks. The thanks rate
 * is the one knob, set so dissatisfaction outnumbers satisfaction about 2:1 as in WildFeedback, and it is fixed before
 * any method runs.
 */
final class SimulatedUser {
    /** Chance a satisfied user says so; otherwise the conversation just ends. */
    static final double THANKS_RATE = 1.0;
    /** Chance a dissatisfied user complains; otherwise they leave silently. */
    static final double COMPLAINT_RATE = 0.9;

    record Reaction(Satisfaction label, String text) {}

    private final Random random;

    SimulatedUser(Random random) {
        this.random = random;
    }

    /** The user's next turn after {@code reply}, or null when they leave without a word. */
    Reaction react(WordTask task, String reply) {
        WordTask.Constraint missed = task.firstMissed(reply);
        if (missed == null) {
            return random.nextDouble() < THANKS_RATE ? new Reaction(Satisfaction.SAT,
                    WordTask.pick(random, "Thanks, that works!", "Perfect, thank you.", "Great, thanks."))
                    : null;
        }
        if (random.nextDouble() >= COMPLAINT_RATE) {
            return null;
        }
        String w = WordTask.normalize(reply);
        String text = w.matches("[a-z]+") ? missed.complaint(w, random) : "That is not one word.";
        return new Reaction(Satisfaction.DSAT, text);
    }
}
