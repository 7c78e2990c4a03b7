package org.driftml.data;

/**
 * A user turn's verdict on the assistant reply before it. WildFeedback annotates each user utterance with a
 * satisfaction and a dissatisfaction flag; a turn with neither is NEUTRAL.
 */
public enum Satisfaction {
    SAT,
    DSAT,
    NEUTRAL
}
