package org.driftml.data;

import java.util.List;
import org.driftml.text.ChatMessage;

/**
 * A reply the user then marked satisfying: the context x and the reply. SPIN's chosen response on WildFeedback.
 */
public record SatReply(String id, List<ChatMessage> prompt, String reply, String source) {
    public SatReply {
        prompt = List.copyOf(prompt);
    }
}
