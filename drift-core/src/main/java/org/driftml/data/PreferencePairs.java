package org.driftml.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.data.internal.JsonLine;
import org.driftml.data.internal.Utf8Lines;
import org.driftml.text.ChatMessage;

/**
 * Preference pairs as JSON Lines, in TRL's two formats:
 * <ul>
 *   <li>conversational: {@code {"prompt": [{"role", "content"}...], "chosen": [{"role": "assistant", "content"}],
 *       "rejected": [...]}};</li>
 *   <li>plain text: {@code {"prompt": "...", "chosen": "...", "rejected": "..."}}.</li>
 * </ul>
 * Other fields are kept as metadata. A malformed record is an error naming the file, the line and the field.
 */
public final class PreferencePairs {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The roles a prompt's messages may have: those chat templates render. */
    private static final java.util.Set<String> ROLES = java.util.Set.of("system", "user", "assistant", "tool");

    private PreferencePairs() {}

    /**
     * Reads every record of a JSON Lines file (blank lines skipped).
     *
     * @throws IllegalArgumentException naming the file and line of the first malformed record, or of bytes that
     *                                  are not UTF-8
     * @throws IOException              when the file cannot be read
     */
    public static List<PreferencePair> read(Path file) throws IOException {
        if (Files.isDirectory(file)) {  // the system says only "Is a directory", with no path
            throw new IllegalArgumentException(file + " is a folder, not a file of preference pairs (JSON Lines)");
        }
        List<PreferencePair> out = new ArrayList<>();
        try (Utf8Lines lines = new Utf8Lines(Files.newInputStream(file))) {
            for (Utf8Lines.Line raw; (raw = lines.next()) != null;) {
                String where = file + ":" + raw.number(), line;
                try {
                    line = raw.text();
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(where + ": " + e.getMessage());
                }
                if (!line.isBlank()) {
                    out.add(parse(line, where));
                }
            }
        }
        return out;
    }

    /** Parses one record; {@code where} (file:line) prefixes every error. */
    static PreferencePair parse(String line, String where) {
        JsonNode n;
        try {
            n = JsonLine.parse(line);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage());
        }
        if (!n.isObject()) {
            throw new IllegalArgumentException(where + ": a pair must be a JSON object");
        }
        for (String field : new String[] {"prompt", "chosen", "rejected"}) {
            if (!n.has(field)) {
                throw new IllegalArgumentException(where + ": missing field \"" + field + "\"");
            }
        }
        Map<String, Object> metadata = new LinkedHashMap<>();
        for (Iterator<String> it = n.fieldNames(); it.hasNext();) {
            String f = it.next();
            if (!f.equals("prompt") && !f.equals("chosen") && !f.equals("rejected")) {
                metadata.put(f, JSON.convertValue(n.get(f), Object.class));
            }
        }
        JsonNode prompt = n.get("prompt");
        if (prompt.isTextual()) {
            return new PreferencePair(List.of(ChatMessage.user(prompt.asText())), text(n, "chosen", where),
                    text(n, "rejected", where), false, metadata);
        }
        if (!prompt.isArray() || prompt.isEmpty()) {
            throw new IllegalArgumentException(where + ": \"prompt\" must be a string or a non-empty list of messages");
        }
        List<ChatMessage> turns = new ArrayList<>();
        for (int i = 0; i < prompt.size(); i++) {
            turns.add(message(prompt.get(i), where + ": prompt[" + i + "]"));
        }
        return new PreferencePair(turns, assistant(n, "chosen", where), assistant(n, "rejected", where), true,
                metadata);
    }

    private static ChatMessage message(JsonNode m, String where) {
        if (!m.path("role").isTextual() || !m.path("content").isTextual()) {
            throw new IllegalArgumentException(where + ": needs string \"role\" and \"content\"");
        }
        String role = m.get("role").asText();
        if (!ROLES.contains(role)) {
            // Chat templates skip roles they do not know: the model would train on a prompt without that message.
            throw new IllegalArgumentException(where + ": unknown role \"" + role + "\" (expected one of system, user, "
                    + "assistant, tool)");
        }
        return new ChatMessage(role, m.get("content").asText());
    }

    private static String text(JsonNode n, String field, String where) {
        if (!n.get(field).isTextual()) {
            throw new IllegalArgumentException(where + ": \"" + field + "\" must be a string when \"prompt\" is one");
        }
        return n.get(field).asText();
    }

    private static String assistant(JsonNode n, String field, String where) {
        JsonNode v = n.get(field);
        if (!v.isArray() || v.size() != 1) {
            throw new IllegalArgumentException(where + ": \"" + field
                    + "\" must be a list holding one assistant message in the conversational format");
        }
        ChatMessage m = message(v.get(0), where + ": " + field + "[0]");
        if (!m.role().equals("assistant")) {
            throw new IllegalArgumentException(where + ": " + field + "[0] has role \"" + m.role()
                    + "\", expected \"assistant\"");
        }
        return m.content();
    }

    /** One record as a JSON line, in the pair's own format. */
    public static String toJson(PreferencePair p) {
        ObjectNode n = JSON.createObjectNode();
        if (p.conversational()) {
            ArrayNode prompt = n.putArray("prompt");
            p.prompt().forEach(m -> prompt.addObject().put("role", m.role()).put("content", m.content()));
            n.putArray("chosen").addObject().put("role", "assistant").put("content", p.chosen());
            n.putArray("rejected").addObject().put("role", "assistant").put("content", p.rejected());
        } else {
            n.put("prompt", p.promptText()).put("chosen", p.chosen()).put("rejected", p.rejected());
        }
        p.metadata().forEach((k, v) -> n.set(k, JSON.valueToTree(v)));
        try {
            return JSON.writeValueAsString(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Appends one record and flushes it: pairs written incrementally survive a crash. */
    public static void append(Writer out, PreferencePair p) throws IOException {
        out.write(toJson(p));
        out.write('\n');
        out.flush();
    }
}
