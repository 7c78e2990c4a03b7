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
 *   <li>openbmb's raw records: {@code {"instruction" | "prompt": text, "completions": [{"response": text,
 *       "annotations": {aspect: {"Rating": "1".."5", ...}}, "fine-grained_score": number, "overall_score":
 *       number}, ...]}}. A completion's score is its {@code fine-grained_score}, else the mean of its annotations'
 *       ratings, else its {@code overall_score} (ultrafeedback_binarized scores by the mean of the four ratings).
 *       The pair is the best against the worst (the first of equals); a record whose scores are all equal gives a
 *       prompt but no pair (counted);</li>
 *   <li>binarized ({@code HuggingFaceH4/ultrafeedback_binarized}, TRL's preference format): {@code {"prompt": text |
 *       [messages], "chosen": [user, assistant] | [assistant] | text, "rejected": ..., "score_chosen",
 *       "score_rejected"}} (a reply given as a conversation is its last message); without {@code prompt}, TRL's
 *       implicit prompt: chosen and rejected are whole conversations and the prompt is what precedes their last
 *       message.</li>
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
        if (p == null && n.path("chosen").isArray() && n.get("chosen").size() > 1) {
            // TRL's implicit prompt: the conversation before the chosen reply, the same before the rejected one.
            List<ChatMessage> chosen = Messages.list(r, "chosen", n.get("chosen"));
            List<ChatMessage> before = chosen.subList(0, chosen.size() - 1);
            JsonNode rejected = n.get("rejected");
            if (rejected != null && rejected.isArray() && rejected.size() > 1 && !Messages.list(r, "rejected",
                    rejected).subList(0, rejected.size() - 1).equals(before)) {
                throw r.bad("rejected", "its conversation before the reply differs from chosen's (TRL's implicit "
                        + "prompt needs one prompt)");
            }
            return List.copyOf(before);
        }
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
            double s = score(r, f, c);
            if (s > hi) {
                hi = s;
                best = i;
            }
            if (s < lo) {
                lo = s;
                worst = i;
            }
        }
        if (hi == lo) {
            return null;
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("id", id(r, n));
        meta.put("source", r.where());
        meta.put("score_chosen", hi);
        meta.put("score_rejected", lo);
        return new PreferencePair(prompt, cs.get(best).get("response").asText(),
                cs.get(worst).get("response").asText(), true, meta);
    }

    /** A raw completion's score: fine-grained_score, else the mean of its annotations' ratings, else overall_score. */
    private static double score(LogRecord r, String f, JsonNode c) {
        JsonNode fine = c.get("fine-grained_score");
        if (fine != null && fine.isNumber()) {
            return fine.asDouble();
        }
        JsonNode annotations = c.get("annotations");
        if (annotations != null && annotations.isObject() && !annotations.isEmpty()) {
            double sum = 0;
            int n = 0;
            for (var it = annotations.fields(); it.hasNext();) {
                var aspect = it.next();
                JsonNode rating = aspect.getValue().get("Rating");
                String at = f + ".annotations." + aspect.getKey() + ".Rating";
                if (rating == null) {
                    throw r.bad(at, "missing");
                }
                try {
                    sum += rating.isNumber() ? rating.asDouble() : Double.parseDouble(rating.asText().trim());
                    n++;
                } catch (NumberFormatException e) {
                    if (!rating.asText().trim().equals("N/A")) {  // openbmb marks an aspect it did not rate so
                        throw r.bad(at, "not a number: " + rating);
                    }
                }
            }
            if (n > 0) {
                return sum / n;
            }
        }
        JsonNode overall = c.get("overall_score");
        if (overall == null || !overall.isNumber()) {
            throw r.bad(f + ".overall_score", "missing or not a number (and no fine-grained_score or ratings)");
        }
        return overall.asDouble();
    }

    private static PreferencePair binarized(LogRecord r, JsonNode n, List<ChatMessage> prompt) {
        for (String f : new String[] {"chosen", "rejected"}) {
            if (!n.has(f)) {
                throw r.bad(f, "missing (or give \"completions\")");
            }
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("id", id(r, n));
        meta.put("source", r.where());
        for (String f : new String[] {"score_chosen", "score_rejected"}) {
            if (n.has(f)) {
                meta.put(f, n.get(f).asDouble());
            }
        }
        return new PreferencePair(prompt, last(r, "chosen", n.get("chosen")), last(r, "rejected", n.get("rejected")),
                true, meta);
    }

    /** The record's own id (ultrafeedback_binarized's prompt_id, or id), else where it was read. */
    private static String id(LogRecord r, JsonNode n) {
        for (String f : new String[] {"prompt_id", "id"}) {
            if (n.hasNonNull(f) && n.get(f).isValueNode()) {
                return n.get(f).asText();
            }
        }
        return r.where();
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
