package org.driftml.data;

import java.util.List;
import org.driftml.text.ChatMessage;

/**
 * One unit of dissatisfaction: the context x (turns up to and including the user request), the reply the user
 * was unhappy with (the paper's y-, kept fixed across iterations) and the user's dissatisfied turn (feedback).
 *
 * @param id     stable across runs (conversation id and turn), so resumed iterations match generated pairs to items
 * @param source where it was read (file and line or row)
 */
public record DsatItem(String id, List<ChatMessage> prompt, String rejected, String feedback, String source) {
    public DsatItem {
        prompt = List.copyOf(prompt);
        if (prompt.isEmpty()) {
            throw new IllegalArgumentException(id + ": a DSAT item needs a non-empty prompt");
        }
    }
}
