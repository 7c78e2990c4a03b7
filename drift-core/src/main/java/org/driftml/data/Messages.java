package org.driftml.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.driftml.text.ChatMessage;

/** Chat messages in the two shapes logs use: {role, content} (OpenAI/TRL) and {from, value} (ShareGPT/WildFeedback). */
final class Messages {
    private Messages() {}

    static List<ChatMessage> list(LogRecord r, String field, JsonNode v) {
        if (v == null || !v.isArray() || v.isEmpty()) {
            throw r.bad(field, "expected a non-empty list of messages");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            out.add(one(r, field + "[" + i + "]", v.get(i)));
        }
        return out;
    }

    static ChatMessage one(LogRecord r, String field, JsonNode m) {
        if (m == null || !m.isObject()) {
            throw r.bad(field, "expected a message object");
        }
        JsonNode role = m.has("role") ? m.get("role") : m.get("from");
        JsonNode content = m.has("content") ? m.get("content") : m.get("value");
        if (role == null || !role.isTextual()) {
            throw r.bad(field, "message needs a string \"role\" (or \"from\")");
        }
        if (content == null || !content.isTextual()) {
            throw r.bad(field, "message needs a string \"content\" (or \"value\")");
        }
        String normalized = switch (role.asText().trim().toLowerCase(Locale.ROOT)) {
            case "user", "human" -> "user";
            case "assistant", "gpt", "agent", "bot" -> "assistant";
            case "system" -> "system";
            default -> throw r.bad(field, "unknown role \"" + role.asText() + "\"");
        };
        return new ChatMessage(normalized, content.asText());
    }

    /** One assistant reply given as a message, a one-message list, or a plain string. */
    static String reply(LogRecord r, String field, JsonNode v) {
        if (v != null && v.isTextual()) {
            return v.asText();
        }
        boolean list = v != null && v.isArray();
        if (list && v.size() != 1) {
            throw r.bad(field, "expected one assistant message");
        }
        String at = list ? field + "[0]" : field;
        ChatMessage m = one(r, at, list ? v.get(0) : v);
        if (!m.role().equals("assistant")) {
            throw r.bad(at, "expected an assistant message, got role \"" + m.role() + "\"");
        }
        return m.content();
    }

    /** Text of a field that is a string, or an object with "content" (or "value"). */
    static String text(LogRecord r, String field, JsonNode v) {
        if (v != null && v.isTextual()) {
            return v.asText();
        }
        if (v != null && v.isObject()) {
            JsonNode c = v.has("content") ? v.get("content") : v.get("value");
            if (c != null && c.isTextual()) {
                return c.asText();
            }
        }
        throw r.bad(field, "expected a string or an object with string \"content\"");
    }
}
