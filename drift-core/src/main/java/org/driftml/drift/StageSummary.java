package org.driftml.drift;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.driftml.output.OutputFolder;

/**
 * One stage of a run: what it trained on, how its loss and its pairs' margins moved, and how long it took. It is the
 * stage folder's {@code summary.json}, written last: a stage with one is done.
 *
 * @param stage        {@code warmstart} or {@code iteration-k}
 * @param method       dpo (the warm start), drift, spin or iterdpo
 * @param pairs        pairs trained on
 * @param dropped      pairs dropped (an empty sample, or one equal to the rejected reply)
 * @param truncated    pairs cut to the length limits
 * @param steps        optimiser steps
 * @param lossFirst    the first step's loss
 * @param lossLast     the last step's loss
 * @param accuracyMean the steps' mean reward accuracy
 * @param reference    what DPO's reference was
 * @param marginsStart the implicit-reward margins s before training
 * @param marginsEnd   the same after training
 * @param seconds      wall time
 */
public record StageSummary(String stage, String method, int pairs, int dropped, int truncated, int steps,
        @JsonProperty("loss_first") double lossFirst, @JsonProperty("loss_last") double lossLast,
        @JsonProperty("accuracy_mean") double accuracyMean, String reference,
        @JsonProperty("margins_start") Margins marginsStart, @JsonProperty("margins_end") Margins marginsEnd,
        double seconds) {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS);

    /**
     * The margins s = beta (log-ratio of chosen - log-ratio of rejected) over a stage's pairs (the paper's Lemma 1
     * diagnostics).
     *
     * @param pairs                    pairs measured
     * @param mean                     the mean margin
     * @param quantiles                margins at the 0.1, 0.25, 0.5, 0.75 and 0.9 quantiles, by level
     * @param shareSigmaNegSAtLeastTau the share of pairs with sigma(-s) at least tau, by tau
     */
    public record Margins(int pairs, double mean, Map<String, Double> quantiles,
            @JsonProperty("share_sigma_neg_s_at_least_tau") Map<String, Double> shareSigmaNegSAtLeastTau) {}

    /** Writes {@code summary.json} into {@code folder}, atomically. */
    void write(Path folder) throws IOException {
        OutputFolder.writeAtomically(folder.resolve("summary.json"), JSON.writeValueAsString(this));
    }

    /** The summary a finished stage left in {@code folder}. */
    static StageSummary read(Path folder) throws IOException {
        return JSON.readValue(folder.resolve("summary.json").toFile(), StageSummary.class);
    }
}
