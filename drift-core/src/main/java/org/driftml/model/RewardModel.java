package org.driftml.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.text.ChatMessage;

/**
 * Scores a response to a conversation; higher is better. IterDPO on UltraFeedback ranks two samples with one. A
 * loaded model holds native memory: close it.
 */
public interface RewardModel extends AutoCloseable {
    /** One score per response, each the reply to {@code prompt}. */
    double[] score(List<ChatMessage> prompt, List<String> responses);

    @Override
    default void close() {}

    /**
     * Refuses a folder that is not a reward model before any work: a sequence classifier by its config's
     * {@code architectures} ({@code ...ForSequenceClassification}). Given a chat model instead, explore sampled every
     * method first (hours at the paper's size) and then failed on the scores.
     *
     * @throws IllegalArgumentException naming the folder and what its config says it is
     */
    static void check(Path folder) throws IOException {
        Path config = folder.resolve("config.json");
        if (!java.nio.file.Files.isRegularFile(config)) {
            throw new IllegalArgumentException(folder + " is not a model folder (no config.json)");
        }
        var architectures = new com.fasterxml.jackson.databind.ObjectMapper().readTree(config.toFile())
                .path("architectures");
        for (var a : architectures) {
            if (a.asText().endsWith("ForSequenceClassification")) {
                return;
            }
        }
        throw new IllegalArgumentException(folder + " is not a reward model: its config.json's architectures are "
                + architectures + "; a reward model is a sequence classifier (...ForSequenceClassification)");
    }

    /**
     * The reward model in a Hugging Face sequence-classification folder, by its config's {@code model_type}:
     * DeBERTa-v2/v3 ({@link DebertaRewardModel}, the paper's OpenAssistant judge) or a decoder
     * ({@link SequenceClassifierRewardModel}).
     */
    static RewardModel load(Path folder, Precision precision, ComputeDevice device) throws IOException {
        Path config = folder.resolve("config.json");
        if (!java.nio.file.Files.isRegularFile(config)) {
            throw new java.nio.file.NoSuchFileException(config.toString(), null, "a reward model folder has one");
        }
        String type = new com.fasterxml.jackson.databind.ObjectMapper().readTree(config.toFile()).path("model_type")
                .asText("");
        return type.equals("deberta-v2") ? new DebertaRewardModel(folder, precision, device)
                : new SequenceClassifierRewardModel(folder, precision, device);
    }
}
