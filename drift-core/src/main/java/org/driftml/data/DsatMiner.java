package org.driftml.data;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.text.ChatMessage;

/**
 * Mines DRIFT's training signal from labelled conversations (paper, Section 3).
 *
 * <ul>
 *   <li>Every DSAT user turn at index i judges the assistant reply at i-1: x = turns before i-1, y- = that reply,
 *       feedback = turn i. The reply must answer a user turn (x ends with one), or the item is skipped and counted.
 *   <li>When the DSAT turn is followed by a revised reply at i+1 that the user marks SAT at i+2, that revision is
 *       a seed pair (x, y+ = revision, y- = the original reply): the DSAT-to-SAT warm-start set.
 *   <li>Every SAT user turn marks the reply before it as satisfying (SPIN's chosen responses).
 * </ul>
 */
public final class DsatMiner {
    private DsatMiner() {}

    /**
     * What mining found: DSAT items (DRIFT's and IterDPO's), seed pairs (the warm start), satisfying replies (SPIN's),
     * and, in the UltraFeedback setting, the records' prompts with both replies ({@code preferences}).
     */
    public record Mined(List<DsatItem> items, List<PreferencePair> seeds, List<SatReply> satisfying,
            List<PreferencePair> preferences, Map<String, Integer> counts) {
        /** Logs without UltraFeedback records. */
        public Mined(List<DsatItem> items, List<PreferencePair> seeds, List<SatReply> satisfying,
                Map<String, Integer> counts) {
            this(items, seeds, satisfying, List.of(), counts);
        }
    }

    public static Mined mine(List<Conversation> conversations) {
        List<DsatItem> items = new ArrayList<>();
        List<PreferencePair> seeds = new ArrayList<>();
        List<SatReply> satisfying = new ArrayList<>();
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String k : List.of("conversations", "user turns", "SAT", "DSAT", "neutral", "DSAT items", "seed pairs",
                "DSAT without a preceding reply")) {
            counts.put(k, 0);
        }
        for (Conversation c : conversations) {
            counts.merge("conversations", 1, Integer::sum);
            List<Turn> t = c.turns();
            for (int i = 0; i < t.size(); i++) {
                Turn turn = t.get(i);
                if (turn.role() != Turn.Role.USER) {
                    continue;
                }
                counts.merge("user turns", 1, Integer::sum);
                counts.merge(switch (turn.label()) {
                    case SAT -> "SAT";
                    case DSAT -> "DSAT";
                    case NEUTRAL -> "neutral";
                }, 1, Integer::sum);
                boolean answersRequest = i >= 2 && t.get(i - 1).role() == Turn.Role.ASSISTANT
                        && t.get(i - 2).role() == Turn.Role.USER;
                if (turn.label() == Satisfaction.SAT && answersRequest) {
                    satisfying.add(new SatReply(c.id() + "#" + i, c.messagesBefore(i - 1), t.get(i - 1).content(),
                            c.source()));
                }
                if (turn.label() != Satisfaction.DSAT) {
                    continue;
                }
                if (!answersRequest) {
                    counts.merge("DSAT without a preceding reply", 1, Integer::sum);
                    continue;
                }
                List<ChatMessage> x = c.messagesBefore(i - 1);
                String rejected = t.get(i - 1).content();
                String id = c.id() + "#" + i;
                items.add(new DsatItem(id, x, rejected, turn.content(), c.source()));
                counts.merge("DSAT items", 1, Integer::sum);
                if (i + 2 < t.size() && t.get(i + 1).role() == Turn.Role.ASSISTANT
                        && t.get(i + 2).role() == Turn.Role.USER && t.get(i + 2).label() == Satisfaction.SAT) {
                    Map<String, Object> meta = new LinkedHashMap<>();
                    meta.put("id", id);
                    meta.put("feedback", turn.content());
                    meta.put("source", c.source());
                    seeds.add(new PreferencePair(x, t.get(i + 1).content(), rejected, true, meta));
                    counts.merge("seed pairs", 1, Integer::sum);
                }
            }
        }
        return new Mined(items, seeds, satisfying, counts);
    }
}
