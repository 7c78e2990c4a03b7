package org.driftml.data;

import java.util.ArrayList;
import java.util.List;
import org.driftml.text.ChatMessage;

/**
 * A logged conversation: its id, its turns in order, and where it was read from (file and first line or row).
 */
public record Conversation(String id, List<Turn> turns, String source) {
    public Conversation {
        turns = List.copyOf(turns);
    }

    /** The turns before index {@code end}, as chat messages: the context x of a reply at {@code end}. */
    public List<ChatMessage> messagesBefore(int end) {
        List<ChatMessage> out = new ArrayList<>(end);
        for (int i = 0; i < end; i++) {
            out.add(turns.get(i).message());
        }
        return out;
    }

    public long count(Satisfaction label) {
        return turns.stream().filter(t -> t.role() == Turn.Role.USER && t.label() == label).count();
    }
}
