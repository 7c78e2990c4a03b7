package org.driftml.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What a reader did: records read and kept, records skipped and why, and counts of deliberate exclusions. */
public final class ReadReport {
    /** At most this many skip reasons are kept verbatim; the count is always exact. */
    public static final int KEPT_REASONS = 20;

    private int records;
    private int kept;
    private int skipped;
    private final List<String> reasons = new ArrayList<>();
    private final Map<String, Integer> excluded = new LinkedHashMap<>();

    void record() {
        records++;
    }

    void kept(int n) {
        kept += n;
    }

    void skip(BadRecordException e) {
        skipped++;
        if (reasons.size() < KEPT_REASONS) {
            reasons.add(e.getMessage());
        }
    }

    /** A record left out on purpose (for example a preference whose chosen equals its rejected). */
    void exclude(String why) {
        excluded.merge(why, 1, Integer::sum);
    }

    /** Handles a bad record by the policy: rethrows under FAIL, counts under SKIP. */
    void onBad(BadRecordException e, OnBadRecord policy) {
        if (policy == OnBadRecord.FAIL) {
            throw e;
        }
        skip(e);
    }

    /** Adds what another reader of the same mining did (the release's three files make one report). */
    void add(ReadReport other) {
        records += other.records;
        kept += other.kept;
        skipped += other.skipped;
        for (String r : other.reasons) {
            if (reasons.size() < KEPT_REASONS) {
                reasons.add(r);
            }
        }
        other.excluded.forEach((why, n) -> excluded.merge(why, n, Integer::sum));
    }

    public int records() {
        return records;
    }

    public int kept() {
        return kept;
    }

    public int skipped() {
        return skipped;
    }

    public List<String> skipReasons() {
        return Collections.unmodifiableList(reasons);
    }

    public Map<String, Integer> excluded() {
        return Collections.unmodifiableMap(excluded);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(records + " records, " + kept + " kept, " + skipped + " skipped");
        excluded.forEach((why, n) -> s.append(", ").append(n).append(' ').append(why));
        return s.toString();
    }
}
