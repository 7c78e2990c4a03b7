package org.driftml.data;

/** A log record that cannot be used, naming the file, the line or row, and the field. */
public final class BadRecordException extends IllegalArgumentException {
    private final String where;
    private final String field;

    public BadRecordException(String where, String field, String problem) {
        super(where + (field != null ? ": field \"" + field + "\"" : "") + ": " + problem);
        this.where = where;
        this.field = field;
    }

    /** "file:line N", "file:row N". */
    public String where() {
        return where;
    }

    /** The offending field, or null when the record as a whole is wrong. */
    public String field() {
        return field;
    }
}
