package org.driftml.drift;

import java.util.ArrayList;
import java.util.List;
import org.driftml.data.DsatItem;
import org.driftml.model.Policy;
import org.driftml.text.ChatMessage;

/**
 * The prompt DRIFT samples a positive from: the conversation, the reply the user disliked, the user's feedback and
 * an instruction to improve, so the new reply can address what was wrong (paper, Section 3; the pair itself is
 * trained on x alone). Two forms:
 * <ul>
 *   <li>{@link Style#TRANSCRIPT}: the released code's plain transcript, rendered without a chat template;</li>
 *   <li>{@link Style#CHAT}: the same turns through the model's chat template, the instruction as a system turn;</li>
 *   <li>{@link Style#RELEASE}: the authors' released generation script's transcript, byte for byte, with y+ cut
 *       from the continuation as that script cuts it (RELEASE-FACTS, "Generating y+").</li>
 * </ul>
 */
public final class FeedbackPrompt {
    /** The released code's improvement instruction, word for word. */
    public static final String INSTRUCTION =
            "Based on the user's latest feedback, please provide an improved response that addresses their concerns.";
    /** The system line of the transcript when the conversation has none. */
    public static final String DEFAULT_SYSTEM = "You are a helpful assistant.";

    public enum Style {
        TRANSCRIPT,
        CHAT,
        RELEASE
    }

    /** What the released script's y+ is cut after: its last occurrence in the decoded sequence. */
    static final String ASSISTANT = "Assistant: ";

    private FeedbackPrompt() {}

    /**
     * System message, then {@code User: ...} / {@code Assistant: ...} turns, then {@code Assistant: <rejected>},
     * {@code User: <feedback>}, {@code System: <instruction>} and {@code Assistant: } for the model to continue.
     * Turns are separated by a blank line.
     */
    public static String transcript(List<ChatMessage> context, String rejected, String feedback) {
        StringBuilder s = new StringBuilder();
        String system = DEFAULT_SYSTEM;
        List<ChatMessage> turns = new ArrayList<>();
        for (ChatMessage m : context) {
            if (m.role().equals("system") && turns.isEmpty()) {
                system = m.content();
            } else {
                turns.add(m);
            }
        }
        s.append(system).append("\n\n");
        for (ChatMessage m : turns) {
            s.append(label(m.role())).append(": ").append(m.content()).append("\n\n");
        }
        s.append("Assistant: ").append(rejected).append("\n\n");
        s.append("User: ").append(feedback).append("\n\n");
        s.append("System: ").append(INSTRUCTION).append("\n\n");
        s.append("Assistant: ");
        return s.toString();
    }

    /**
     * The released generation script's prompt: the first system message's content and a blank line (if there is
     * one), each other message as {@code User: ...} or {@code Assistant: ...} and a newline, then {@code Assistant:
     * <rejected>}, {@code User: <feedback>}, {@code System: <instruction>}, each with a newline, and {@code
     * Assistant: } (its trailing space, no newline).
     */
    public static String release(List<ChatMessage> context, String rejected, String feedback) {
        StringBuilder s = new StringBuilder();
        context.stream().filter(m -> m.role().equals("system")).findFirst()
                .ifPresent(m -> s.append(m.content()).append("\n\n"));
        for (ChatMessage m : context) {
            if (!m.role().equals("system")) {
                s.append(label(m.role())).append(": ").append(m.content()).append('\n');
            }
        }
        s.append(ASSISTANT).append(rejected).append('\n');
        s.append("User: ").append(feedback).append('\n');
        s.append("System: ").append(INSTRUCTION).append('\n');
        s.append(ASSISTANT);
        return s.toString();
    }

    /**
     * The positive a style keeps from a sampled continuation (decoded without special tokens). {@link Style#RELEASE}:
     * the released script decodes prompt and continuation together and keeps what follows the last {@code
     * "Assistant: "}, stripped; the prompt ends with that marker and no later one can begin inside it, so that is
     * the continuation after its own last marker, or the whole continuation when it has none. The other styles: the
     * continuation, stripped.
     */
    public static String positive(String continuation, Style style) {
        if (style == Style.RELEASE) {
            int at = continuation.lastIndexOf(ASSISTANT);
            return (at < 0 ? continuation : continuation.substring(at + ASSISTANT.length())).strip();
        }
        return continuation.strip();
    }

    /** The chat form: x, the rejected reply, the feedback, then the instruction as a system turn. */
    public static List<ChatMessage> chat(List<ChatMessage> context, String rejected, String feedback) {
        List<ChatMessage> out = new ArrayList<>(context);
        out.add(ChatMessage.assistant(rejected));
        out.add(ChatMessage.user(feedback));
        out.add(ChatMessage.system(INSTRUCTION));
        return out;
    }

    /** The item's sampling prompt as token ids in the given style. */
    public static long[] encode(Policy policy, DsatItem item, Style style) {
        return switch (style) {
            case TRANSCRIPT -> policy.encodeText(transcript(item.prompt(), item.rejected(), item.feedback()));
            case RELEASE -> policy.encodeText(release(item.prompt(), item.rejected(), item.feedback()));
            case CHAT -> policy.encodeChat(chat(item.prompt(), item.rejected(), item.feedback()));
        };
    }

    private static String label(String role) {
        return switch (role) {
            case "user" -> "User";
            case "assistant" -> "Assistant";
            case "system" -> "System";
            default -> role;
        };
    }
}
