package org.driftml.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.model.internal.SequenceClassifier;
import org.driftml.model.internal.Torch;
import org.driftml.text.ChatMessage;
import org.driftml.text.ChatTemplate;
import org.driftml.text.Tokenizer;

/**
 * A reward model from a Hugging Face sequence-classification folder (num_labels 1, as UltraFeedback-era reward
 * models are): each response is appended to the prompt as an assistant turn, rendered with the model's chat
 * template, and scored by label 0.
 */
public final class SequenceClassifierRewardModel implements RewardModel {
    private final SequenceClassifier classifier;
    private final Tokenizer tokenizer;
    private final ChatTemplate template;

    public SequenceClassifierRewardModel(Path folder, Precision precision) throws IOException {
        this(folder, precision, ComputeDevice.CPU);
    }

    /** As above with the classifier on {@code device}. */
    public SequenceClassifierRewardModel(Path folder, Precision precision, ComputeDevice device) throws IOException {
        this.classifier = SequenceClassifier.load(folder, Torch.computeDtype(precision), Torch.device(device));
        this.tokenizer = Tokenizer.load(folder);
        this.template = ChatTemplate.load(folder);
    }

    /** The token ids a conversation is scored on. */
    public long[] encode(List<ChatMessage> prompt, String response) {
        List<ChatMessage> m = new ArrayList<>(prompt);
        m.add(ChatMessage.assistant(response));
        return tokenizer.encode(template.render(m, false));
    }

    @Override
    public double[] score(List<ChatMessage> prompt, List<String> responses) {
        List<long[]> seqs = new ArrayList<>();
        for (String r : responses) {
            seqs.add(encode(prompt, r));
        }
        return Logits.labelZero(classifier.logits(seqs));
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
