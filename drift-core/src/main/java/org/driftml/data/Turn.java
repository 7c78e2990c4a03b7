package org.driftml.data;

import java.util.Objects;
import org.driftml.text.ChatMessage;

/**
 * One turn of a logged conversation. {@code label} is meaningful on user turns only, where it judges the
 * assistant reply just before the turn (the paper's DSAT signal); system and assistant turns are NEUTRAL.
 */
public record Turn(Role role, String content, Satisfaction label) {
    public enum Role {
        SYSTEM,
        USER,
        ASSISTANT;

        public String chatRole() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public Turn {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        label = label == null ? Satisfaction.NEUTRAL : label;
    }

    public static Turn user(String content, Satisfaction label) {
        return new Turn(Role.USER, content, label);
    }

    public static Turn user(String content) {
        return new Turn(Role.USER, content, Satisfaction.NEUTRAL);
    }

    public static Turn assistant(String content) {
        return new Turn(Role.ASSISTANT, content, Satisfaction.NEUTRAL);
    }

    public static Turn system(String content) {
        return new Turn(Role.SYSTEM, content, Satisfaction.NEUTRAL);
    }

    public ChatMessage message() {
        return new ChatMessage(role.chatRole(), content);
    }
}
