package org.driftml.data;

/** What a reader does with a record it cannot use. */
public enum OnBadRecord {
    /** Stop with a {@link BadRecordException} naming the record (the default). */
    FAIL,
    /** Leave it out and count it in the {@link ReadReport}. */
    SKIP
}
