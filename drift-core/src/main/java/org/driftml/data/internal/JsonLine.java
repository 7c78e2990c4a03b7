package org.driftml.data.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;

/** One JSON Lines record: exactly one JSON value on the line, or an error saying what is wrong with it. */
public final class JsonLine {
    // Strict about what follows the value: a second object on a line was once dropped without a word.
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private JsonLine() {}

    /**
     * @return the line's one JSON value
     * @throws IllegalArgumentException "not valid JSON: ..." (the parser's own words, with the column), or "more than
     *                                  one JSON value on the line"; the caller adds the file and line
     */
    public static JsonNode parse(String line) {
        try {
            return JSON.readTree(line);
        } catch (MismatchedInputException e) {
            if (e.getOriginalMessage().startsWith("Trailing token")) {
                throw new IllegalArgumentException("more than one JSON value on the line (a second starts at column "
                        + (e.getLocation() == null ? "?" : e.getLocation().getColumnNr()) + ")");
            }
            throw new IllegalArgumentException("not valid JSON: " + e.getOriginalMessage());
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " (column " + e.getLocation().getColumnNr() + ")"));
        }
    }
}
