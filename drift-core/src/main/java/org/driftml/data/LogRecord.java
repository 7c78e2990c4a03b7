package org.driftml.data;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One raw record of a log file with where it came from, so every later error can name it.
 *
 * @param where "file:line N" for JSON Lines, "file:line N (record K)" for a JSON array, "file:row N" for Parquet
 */
record LogRecord(String where, JsonNode value) {
    /** A problem with this record, naming it and the field. */
    public BadRecordException bad(String field, String problem) {
        return new BadRecordException(where, field, problem);
    }
}
