package org.driftml.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.text.ChatMessage;

/**
 * UltraFeedback-style records, in either shape:
 * <ul>
 *   <li>scored completions: {@code {"instruction" | "prompt": text, "completions": [{"response": text,
 *       "overall_score": number}, ...]}}; the pair is the best against the worst, and a record whose scores are
 *       all equal gives a prompt but no pair (counted);</li>
 *   <li>binarized: {@code {"prompt": text, "chosen": [user, assistant], "rejected": [user, assistant]}} (the
 *       reply is the last message), or chosen/rejected given as one assistant message or a string.</li>
 * </ul>
 * Every record yields its prompt, which IterDPO on UltraFeedback samples from.
 */
public final class UltraFeedbackRecords {
    public static final String TIED = "records whose completions all score the same";

    private UltraFeedbackRecords() {}

    public record Result(List<List<ChatMessage>> prompts, List<PreferencePair> pairs, ReadReport report) {}

    public static Result read(Path path, OnBadRecord policy) throws IOException {
        ReadReport report = new ReadReport();
        List<List<ChatMessage>> prompts = new ArrayList<>();
        List<PreferencePair> pairs = new ArrayList<>();
        LogFiles.read(path, policy, report, r -> {
            report.record();
            try {
                JsonNode n = r.value();
                if (!n.isObject()) {
                    throw r.bad(null, "expected an object");
                }
                List<ChatMessage> prompt = prompt(r, n);
                PreferencePair pair = n.has("completions") ? scored(r, n, prompt) : binarized(r, n, prompt);
                prompts.add(prompt);
                report.kept(1);
                if (pair == null) {
                    report.exclude(TIED);
                } else {
                    pairs.add(pair);
                }
            } catch (BadRecordException e) {
                report.onBad(e, policy);
            }
        });
        return new Result(prompts, pairs, report);
    }

    private static List<ChatMessage> prompt(LogRecord r, JsonNode n) {
        JsonNode p = n.has("prompt") ? n.get("prompt") : n.get("instruction");
        String field = n.has("prompt") ? "prompt" : "instruction";
        if (p == null) {
            throw r.bad("prompt", "missing (expected \"prompt\" or \"instruction\")");
        }
        if (p.isTextual()) {
            return List.of(ChatMessage.user(p.asText()));
        }
        return Messages.list(r, field, p);
    }

    private static PreferencePair scored(LogRecord r, JsonNode n, List<ChatMessage> prompt) {
        JsonNode cs = n.get("completions");
        if (!cs.isArray() || cs.size() < 2) {
            throw r.bad("completions", "expected at least two scored completions");
        }
        int best = -1, worst = -1;
        double hi = Double.NEGATIVE_INFINITY, lo = Double.POSITIVE_INFINITY;
        for (int i = 0; i < cs.size(); i++) {
            JsonNode c = cs.get(i);
            String f = "completions[" + i + "]";
            if (!c.path("response").isTextual()) {
                throw r.bad(f + ".response", "missing or not a string");
            }
            JsonNode s = c.get("overall_score");
            if (s == null || !s.isNumber()) {
                throw r.bad(f + ".overall_score", "missing or not a number");
            }
            if (s.asDouble() > hi) {
                hi = s.asDouble();
                best = i;
            }
            if (s.asDouble() < lo) {
                lo = s.asDouble();
                worst = i;
            }
        }
        if (hi == lo) {
            return null;
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("source", r.where());
        meta.put("score_chosen", hi);
        meta.put("score_rejected", lo);
        return new PreferencePair(prompt, cs.get(best).get("response").asText(),
                cs.get(worst).get("response").asText(), true, meta);
    }

    private static PreferencePair binarized(LogRecord r, JsonNode n, List<ChatMessage> prompt) {
        for (String f : new String[] {"chosen", "rejected"}) {
            if (!n.has(f)) {
                throw r.bad(f, "missing (or give \"completions\")");
            }
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("source", r.where());
        for (String f : new String[] {"score_chosen", "score_rejected"}) {
            if (n.has(f)) {
                meta.put(f, n.get(f).asDouble());
            }
        }
        return new PreferencePair(prompt, last(r, "chosen", n.get("chosen")), last(r, "rejected", n.get("rejected")),
                true, meta);
    }

    private static String last(LogRecord r, String field, JsonNode v) {
        if (v.isArray() && v.size() > 1) {
            ChatMessage m = Messages.one(r, field + "[" + (v.size() - 1) + "]", v.get(v.size() - 1));
            if (!m.role().equals("assistant")) {
                throw r.bad(field, "the last message must be the assistant's reply");
            }
            return m.content();
        }
        return Messages.reply(r, field, v);
    }
}
