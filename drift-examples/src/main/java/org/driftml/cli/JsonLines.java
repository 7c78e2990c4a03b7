package org.driftml.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import org.driftml.data.internal.JsonLine;
import org.driftml.data.internal.Utf8Lines;
import org.driftml.kernels.StepScope;

/**
 * The JSON Lines protocol the CLI's data commands share: one JSON object in per line, one out per line, in order and
 * flushed, so scripts and other tools can drive drift through a pipe. A bad line is answered with
 * {@code {"error": "line N: ...", "line": N}} in its place and reported on stderr; the other lines are still answered.
 */
final class JsonLines {
    /** A line's input is wrong; the message says what, without the line number (added here). */
    static final class BadLine extends RuntimeException {
        BadLine(String message) {
            super(message);
        }
    }

    interface Handler {
        ObjectNode answer(JsonNode in, ObjectMapper json);
    }

    static final ObjectMapper JSON = new ObjectMapper();


    private JsonLines() {}

    /** Answers every line; returns how many lines failed. */
    static int run(InputStream input, PrintWriter out, PrintWriter err, Handler handler) throws IOException {
        int failed = 0;
        Utf8Lines reader = new Utf8Lines(input);
        for (Utf8Lines.Line raw; (raw = reader.next()) != null;) {
            int number = raw.number();
            ObjectNode answer;
            try (StepScope step = StepScope.open()) {
                String line = raw.text();  // an IllegalArgumentException when too long or not UTF-8
                if (line.isBlank()) {
                    continue;
                }
                JsonNode in;
                try {
                    in = JsonLine.parse(line);
                } catch (IllegalArgumentException e) {
                    throw new BadLine(e.getMessage());
                }
                if (!in.isObject()) {
                    throw new BadLine("expected a JSON object, got " + in.getNodeType().toString().toLowerCase());
                }
                answer = handler.answer(in, JSON);
            } catch (RuntimeException e) {  // a bad line, or what the model made of it (a NaN): answered in place
                failed++;
                answer = JSON.createObjectNode().put("error", "line " + number + ": " + e.getMessage())
                        .put("line", number);
                err.println("drift: line " + number + ": " + e.getMessage());
                err.flush();
            }
            out.println(JSON.writeValueAsString(answer));
            out.flush();
        }
        return failed;
    }

    /**
     * A list of non-negative integer ids below {@code vocab}, at most {@code maxLength} of them (the model's
     * positions), or a BadLine naming the field and the element.
     */
    static long[] ids(JsonNode in, String field, long vocab, int maxLength) {
        JsonNode node = in.get(field);
        if (node == null) {
            throw new BadLine("missing field \"" + field + "\"");
        }
        if (!node.isArray()) {
            throw new BadLine("\"" + field + "\" must be a list of token ids, got " + node.getNodeType().toString()
                    .toLowerCase());
        }
        if (node.size() > maxLength) {
            throw new BadLine("\"" + field + "\" has " + node.size() + " ids, more than the model's "
                    + maxLength + " positions (max_position_embeddings)");
        }
        long[] ids = new long[node.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode e = node.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToLong()) {
                throw new BadLine(field + "[" + i + "] = " + e + " is not an integer token id");
            }
            ids[i] = e.asLong();
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new BadLine(field + "[" + i + "] = " + ids[i] + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        return ids;
    }
}
