package org.driftml.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.driftml.model.internal.DebertaV2Classifier;
import org.driftml.model.internal.Torch;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.text.ChatMessage;
import org.driftml.text.Tokenizer;

/**
 * A DeBERTa-v2/v3 sequence classifier as a reward model, as OpenAssistant's reward-model-deberta-v3-large-v2 (the
 * judge the paper's IterDPO-UF ranks with) is called: {@code tokenizer(question, answer)}, the score is label 0's
 * logit. The question is the prompt's text: a single turn's content, or, for a longer prompt, each turn's content
 * joined by a blank line (drift's choice: the model card scores single questions only).
 */
public final class DebertaRewardModel implements RewardModel {
    private final DebertaV2Classifier classifier;
    private final Tokenizer tokenizer;

    public DebertaRewardModel(Path folder, Precision precision, ComputeDevice device) throws IOException {
        this.classifier = DebertaV2Classifier.load(folder, Torch.computeDtype(precision), Torch.device(device));
        this.tokenizer = Tokenizer.load(folder);
    }

    /** The question a prompt is scored as. */
    static String question(List<ChatMessage> prompt) {
        return String.join("\n\n", prompt.stream().map(ChatMessage::content).toList());
    }

    /** The ids and token types a response is scored on. */
    public Tokenizer.Encoded encode(List<ChatMessage> prompt, String response) {
        return tokenizer.encodePair(question(prompt), response);
    }

    @Override
    public double[] score(List<ChatMessage> prompt, List<String> responses) {
        List<long[]> ids = new ArrayList<>(), types = new ArrayList<>();
        for (String r : responses) {
            Tokenizer.Encoded e = encode(prompt, r);
            if (e.ids().length > classifier.maxLength()) {
                throw new IllegalArgumentException("a reply to score is " + e.ids().length + " tokens with its "
                        + "question, over the reward model's " + classifier.maxLength() + " positions");
            }
            ids.add(e.ids());
            types.add(e.typeIds());
        }
        return Logits.labelZero(classifier.logits(ids, types));
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
