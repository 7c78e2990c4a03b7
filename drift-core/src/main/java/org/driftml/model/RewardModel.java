package org.driftml.model;

import java.util.List;
import org.driftml.text.ChatMessage;

/** Scores a response to a conversation; higher is better. IterDPO on UltraFeedback ranks two samples with one. */
public interface RewardModel {
    /** One score per response, each the reply to {@code prompt}. */
    double[] score(List<ChatMessage> prompt, List<String> responses);
}
