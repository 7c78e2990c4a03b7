package org.driftml.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The data files of the DRIFT authors' release (RELEASE-FACTS, "Data files"), read into what {@code drift train}
 * takes: {@code dsat_data.jsonl} gives the DSAT items ({@link DsatRecords}), {@code sat_data.jsonl} the satisfying
 * replies SPIN trains towards ({@link SatRecords}), and {@code seed-data/train.jsonl} the seed pairs of the warm
 * start ({@link #seeds}).
 */
public final class ReleaseFiles {
    /** The release's file names under its {@code data/} folder. */
    public static final String DSAT = "dsat_data.jsonl", SAT = "sat_data.jsonl", SEEDS = "seed-data/train.jsonl";

    private ReleaseFiles() {}

    /**
     * Reads the release's files.
     *
     * @param dsat  the DSAT records (required)
     * @param sat   the SAT records, or null
     * @param seeds seed-pair files (none: no warm start data)
     */
    public static LogFormat.Mining read(Path dsat, Path sat, List<Path> seeds, OnBadRecord policy)
            throws IOException {
        ReadReport report = new ReadReport();
        DsatRecords.Result items = DsatRecords.read(dsat, policy);
        report.add(items.report());
        List<SatReply> satisfying = List.of();
        if (sat != null) {
            SatRecords.Result read = SatRecords.read(sat, policy);
            report.add(read.report());
            satisfying = read.replies();
        }
        List<PreferencePair> pairs = seeds(seeds, policy, report);
        Map<String, Integer> counts = new LinkedHashMap<>();
        counts.put("DSAT items", items.items().size());
        counts.put("satisfying replies", satisfying.size());
        counts.put("seed pairs", pairs.size());
        return new LogFormat.Mining(new DsatMiner.Mined(items.items(), pairs, satisfying, counts), report);
    }

    /**
     * The release's {@code data/} folder: {@value #DSAT}, and {@value #SAT} and {@value #SEEDS} where present; a
     * file is read as the DSAT records alone.
     */
    public static LogFormat.Mining readFolder(Path data, OnBadRecord policy) throws IOException {
        if (!Files.isDirectory(data)) {
            return read(data, null, List.of(), policy);
        }
        if (!Files.isRegularFile(data.resolve(DSAT))) {
            throw new IllegalArgumentException(data + ": no " + DSAT + " (the release's data/ folder has one)");
        }
        Path sat = data.resolve(SAT), seeds = data.resolve(SEEDS);
        return read(data.resolve(DSAT), Files.isRegularFile(sat) ? sat : null,
                Files.isRegularFile(seeds) ? List.of(seeds) : List.of(), policy);
    }

    /**
     * Seed pairs for the warm start, in TRL's preference format: {@code prompt}, {@code chosen}, {@code rejected} as
     * message lists (conversational) or text, or the Alignment Handbook's (prompt text, chosen and rejected as whole
     * conversations), or with an implicit prompt ({@link UltraFeedbackRecords} reads them all); added to
     * {@code report}.
     */
    public static List<PreferencePair> seeds(List<Path> files, OnBadRecord policy, ReadReport report)
            throws IOException {
        List<PreferencePair> pairs = new ArrayList<>();
        for (Path f : files) {
            if (!Files.exists(f)) {
                throw new IllegalArgumentException("--seeds: " + f + ": no such file");
            }
            UltraFeedbackRecords.Result read = UltraFeedbackRecords.read(f, policy);
            report.add(read.report());
            pairs.addAll(read.pairs());
        }
        return pairs;
    }
}
