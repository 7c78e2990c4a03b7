package org.driftml.data;

import java.util.List;
import java.util.Map;
import org.driftml.text.ChatMessage;

/**
 * One DPO training example (DRIFT's (x, y+, y-)): a prompt, the chosen response y+ and the rejected response y-.
 * Conversational pairs carry the prompt as chat turns and each response as one assistant turn, as TRL's
 * conversational format does; plain-text pairs carry strings and bypass the chat template.
 *
 * @param prompt   chat turns (conversational) or a single user turn holding the raw text (plain)
 * @param metadata anything else the record carried (ids, feedback, scores), written back unchanged
 */
public record PreferencePair(List<ChatMessage> prompt, String chosen, String rejected, boolean conversational,
        Map<String, Object> metadata) {
    public PreferencePair {
        prompt = List.copyOf(prompt);
        // Insertion order, not Map.copyOf's per-JVM order: written pairs must be byte-identical across runs.
        metadata = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(metadata));
        if (prompt.isEmpty()) {
            throw new IllegalArgumentException("a preference pair needs a prompt");
        }
    }

    /**
     * A pair in TRL's conversational format: the prompt's messages, then two assistant replies to compare.
     *
     * @param prompt   the messages before the reply (at least one), rendered through the chat template
     * @param chosen   the preferred reply (DRIFT's fresh positive y+)
     * @param rejected the dispreferred reply (DRIFT's logged reply the user was unhappy with, y-)
     * @return the pair
     * @throws IllegalArgumentException when the prompt has no messages
     */
    public static PreferencePair conversational(List<ChatMessage> prompt, String chosen, String rejected) {
        return new PreferencePair(prompt, chosen, rejected, true, Map.of());
    }

    /**
     * A pair in TRL's plain format: prompt and replies as raw text, concatenated without a chat template.
     *
     * @param prompt   the prompt text
     * @param chosen   the preferred continuation
     * @param rejected the dispreferred continuation
     * @return the pair
     */
    public static PreferencePair plain(String prompt, String chosen, String rejected) {
        return new PreferencePair(List.of(ChatMessage.user(prompt)), chosen, rejected, false, Map.of());
    }

    /** The prompt's text, for plain pairs. */
    public String promptText() {
        return prompt.get(0).content();
    }
}
