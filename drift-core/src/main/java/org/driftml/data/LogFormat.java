package org.driftml.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.driftml.settings.Setting;

/**
 * The log formats drift mines, each read by its own reader into what DRIFT trains on: DSAT items (x, the reply the
 * user disliked, their feedback), seed pairs for the warm start, and the replies users were satisfied with.
 */
public enum LogFormat {
    /** WildFeedback's sat_dsat_annotation rows, grouped into conversations and mined ({@link DsatMiner}). */
    WILDFEEDBACK,
    /** DRIFT's released records {prompt, rejected, user_preference}: DSAT items as they are. */
    DSAT,
    /** WildFeedback's preference records {conversations, chosen, rejected}: seed pairs. */
    WILDFEEDBACK_PREFERENCES,
    /** UltraFeedback's records (openbmb's raw or binarized): each prompt with both replies, for Table 3's setting. */
    ULTRAFEEDBACK,
    /** The DRIFT release's data folder, or its {@code dsat_data.jsonl} alone ({@link ReleaseFiles}). */
    RELEASE,
    /** drift serve's conversation log ({@link ConversationLog}): explicit feedback first, then the detector. */
    SERVED;

    /** {@code --format}: which reader the logs go through. */
    public static final Setting<LogFormat> FORMAT = Setting.choice("format", LogFormat.class,
            "the logs' format", WILDFEEDBACK, "drift's choice: wildfeedback");

    /** What mining a log file or folder gave, and what its reader skipped or refused. */
    public record Mining(DsatMiner.Mined mined, ReadReport report) {}

    /**
     * Reads {@code logs} and mines them.
     *
     * @param logs   a file (.jsonl, .json, .parquet) or a folder of them
     * @param policy fail at the first bad record (named by file, line or row, and field), or skip and count it
     * @param labels for {@link #WILDFEEDBACK}: relabels the conversations' user turns before mining (a detector or a
     *               judge; {@link UnaryOperator#identity()} keeps the logs' own labels); unused by the other formats
     * @throws BadRecordException on a bad record under {@link OnBadRecord#FAIL}
     */
    public Mining mine(Path logs, OnBadRecord policy, UnaryOperator<List<Conversation>> labels) throws IOException {
        return switch (this) {
            case WILDFEEDBACK -> {
                var read = WildFeedbackAnnotations.read(logs, policy);
                yield new Mining(DsatMiner.mine(labels.apply(read.conversations())), read.report());
            }
            case DSAT -> {
                var read = DsatRecords.read(logs, policy);
                yield new Mining(new DsatMiner.Mined(read.items(), List.of(), List.of(),
                        Map.of("DSAT items", read.items().size())), read.report());
            }
            case WILDFEEDBACK_PREFERENCES -> {
                var read = WildFeedbackPreferences.read(logs, policy);
                yield new Mining(new DsatMiner.Mined(List.of(), read.pairs(), List.of(),
                        Map.of("seed pairs", read.pairs().size())), read.report());
            }
            case ULTRAFEEDBACK -> {
                // Kept as records (prompt, chosen, rejected): each method of Sec. 4.1 keeps one side or neither.
                var read = UltraFeedbackRecords.read(logs, policy);
                Map<String, Integer> counts = new java.util.LinkedHashMap<>();
                counts.put("prompts", read.prompts().size());
                counts.put("preference records", read.pairs().size());
                yield new Mining(new DsatMiner.Mined(List.of(), List.of(), List.of(), read.pairs(), counts),
                        read.report());
            }
            case RELEASE -> ReleaseFiles.readFolder(logs, policy);
            case SERVED -> ServedLogs.mine(logs, policy, 0, null);
        };
    }
}
