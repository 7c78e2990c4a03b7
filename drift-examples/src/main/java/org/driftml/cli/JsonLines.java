package org.driftml.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
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
        BufferedReader reader = new BufferedReader(new InputStreamReader(input, StandardCharsets.UTF_8));
        String line;
        int number = 0;
        while ((line = reader.readLine()) != null) {
            number++;
            if (line.isBlank()) {
                continue;
            }
            ObjectNode answer;
            try (StepScope step = StepScope.open()) {
                JsonNode in;
                try {
                    in = JSON.readTree(line);
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    throw new BadLine("not valid JSON: " + e.getOriginalMessage());
                }
                if (!in.isObject()) {
                    throw new BadLine("expected a JSON object, got " + in.getNodeType().toString().toLowerCase());
                }
                answer = handler.answer(in, JSON);
            } catch (BadLine | IllegalArgumentException | IllegalStateException e) {
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

    /** A list of non-negative integer ids below {@code vocab}, or a BadLine naming the field and the element. */
    static long[] ids(JsonNode in, String field, long vocab) {
        JsonNode node = in.get(field);
        if (node == null) {
            throw new BadLine("missing field \"" + field + "\"");
        }
        if (!node.isArray()) {
            throw new BadLine("\"" + field + "\" must be a list of token ids, got " + node.getNodeType().toString()
                    .toLowerCase());
        }
        long[] ids = new long[node.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode e = node.get(i);
            if (!e.isIntegralNumber()) {
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
