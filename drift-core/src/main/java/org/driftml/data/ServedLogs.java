package org.driftml.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.driftml.text.ChatMessage;

/**
 * Reads a {@link ConversationLog} (drift serve's) as it is, rotated segments and a torn last line included, and mines
 * it: each conversation's branches become labelled conversations for {@link DsatMiner}, each user turn labelled by
 * the user's explicit feedback on the reply before it when there is any, else by the detector's label logged when
 * the turn arrived. Explicit feedback on a reply the user never answered adds the rating's turn (its comment).
 *
 * <p>Records, one JSON object per line:
 * <ul>
 *   <li>{@code {"type": "reply", "id", "conversation", "messages": [{role, content}], "reply", "finish_reason",
 *       "detector": {"label", "rules": [{"rule", "precision"}]} | null, "model": {name, folder, stage}, "settings",
 *       "usage", "received", "answered"}}: a completed response to the request {@code messages};</li>
 *   <li>{@code {"type": "feedback", "id", "response_id" | null, "conversation", "rating": "up" | "down" | 1..5,
 *       "comment", "received"}}: explicit feedback on a reply, or on a conversation (its latest reply then).</li>
 * </ul>
 */
public final class ServedLogs {
    /** The feedback turn mined from a thumbs-down (or a rating of 1 or 2) with no comment: drift's choice of words. */
    public static final String UNCOMMENTED_DSAT = "That is not what I wanted.";
    /** ... and from a thumbs-up (4 or 5) with no comment. */
    public static final String UNCOMMENTED_SAT = "Thanks, that helps.";
    private static final ObjectMapper JSON = new ObjectMapper();

    private ServedLogs() {}

    /** A rule that fired on a turn and its measured precision (NaN when none was measured). */
    public record RuleHit(String rule, double precision) {}

    /** A completed response: the request's messages, the reply, and the detector's verdict on the last user turn. */
    public record Reply(String id, String conversation, List<ChatMessage> messages, String reply,
            Satisfaction detected, List<RuleHit> rules, String where) implements Record {}

    /** Explicit feedback: on {@code responseId}, or (null) on the conversation's latest reply before it. */
    public record Feedback(String responseId, String conversation, Satisfaction label, String comment,
            String where) implements Record {}

    /** What the log holds: replies and feedback together, in the order they were written. */
    public record Read(List<Record> logged, ReadReport report) {
        public List<Reply> replies() {
            return logged.stream().filter(r -> r instanceof Reply).map(r -> (Reply) r).toList();
        }

        public List<Feedback> feedback() {
            return logged.stream().filter(r -> r instanceof Feedback).map(r -> (Feedback) r).toList();
        }
    }

    /** A reply or a feedback record. */
    public sealed interface Record permits Reply, Feedback {}

    /**
     * The label a rating gives: thumbs down, 1 or 2 DSAT; thumbs up, 4 or 5 SAT; 3 neutral.
     *
     * @throws IllegalArgumentException for anything else
     */
    public static Satisfaction label(JsonNode rating) {
        if (rating != null && rating.isTextual()) {
            switch (rating.asText().toLowerCase(Locale.ROOT)) {
                case "up", "thumbs_up" -> {
                    return Satisfaction.SAT;
                }
                case "down", "thumbs_down" -> {
                    return Satisfaction.DSAT;
                }
                default -> { }
            }
        }
        if (rating != null && rating.isIntegralNumber() && rating.asInt() >= 1 && rating.asInt() <= 5
                && rating.canConvertToInt()) {
            int r = rating.asInt();
            return r <= 2 ? Satisfaction.DSAT : r >= 4 ? Satisfaction.SAT : Satisfaction.NEUTRAL;
        }
        throw new IllegalArgumentException("rating must be \"up\", \"down\" or an integer from 1 to 5, got " + rating);
    }

    /** Reads every segment; a last line without its newline (a write the process did not finish) is left out. */
    public static Read read(Path folder, OnBadRecord policy) throws IOException {
        if (!ConversationLog.isLog(folder)) {
            throw new IllegalArgumentException(folder + " is not a drift serve log (no " + ConversationLog.MANIFEST
                    + ")");
        }
        ConversationLog.checkManifest(folder);
        ReadReport report = new ReadReport();
        List<Record> logged = new ArrayList<>();
        for (Path segment : ConversationLog.segments(folder)) {
            byte[] bytes = Files.readAllBytes(segment);
            int start = 0, line = 0;
            while (start < bytes.length) {
                int end = start;
                while (end < bytes.length && bytes[end] != '\n') {
                    end++;
                }
                line++;
                if (end == bytes.length) {  // torn: never acknowledged, so no client saw it complete
                    report.exclude("torn last line of a segment (a write cut short)");
                    break;
                }
                String text = new String(bytes, start, end - start, StandardCharsets.UTF_8);
                start = end + 1;
                if (text.isBlank()) {
                    continue;
                }
                LogRecord r;
                try {
                    r = new LogRecord(segment + ":line " + line, JSON.readTree(text));
                } catch (IOException e) {
                    report.record();
                    report.onBad(new BadRecordException(segment + ":line " + line, null, "not JSON"), policy);
                    continue;
                }
                report.record();
                try {
                    logged.add(switch (r.value().path("type").asText()) {
                        case "reply" -> reply(r);
                        case "feedback" -> feedback(r);
                        default -> throw r.bad("type", "must be \"reply\" or \"feedback\"");
                    });
                    report.kept(1);
                } catch (BadRecordException e) {
                    report.onBad(e, policy);
                }
            }
        }
        return new Read(logged, report);
    }

    private static Reply reply(LogRecord r) {
        JsonNode v = r.value();
        List<ChatMessage> messages = new ArrayList<>();
        JsonNode list = v.path("messages");
        if (!list.isArray() || list.isEmpty()) {
            throw r.bad("messages", "must be a non-empty array");
        }
        for (JsonNode m : list) {
            if (!m.path("role").isTextual() || !m.path("content").isTextual()) {
                throw r.bad("messages", "each message needs a role and text content");
            }
            messages.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        }
        Satisfaction detected = Satisfaction.NEUTRAL;
        List<RuleHit> rules = new ArrayList<>();
        JsonNode d = v.path("detector");
        if (d.isObject()) {
            try {
                detected = Satisfaction.valueOf(d.path("label").asText());
            } catch (IllegalArgumentException e) {
                throw r.bad("detector.label", "must be SAT, DSAT or NEUTRAL");
            }
            for (JsonNode h : d.path("rules")) {
                rules.add(new RuleHit(h.path("rule").asText(), h.path("precision").isNumber()
                        ? h.get("precision").asDouble() : Double.NaN));
            }
        }
        return new Reply(text(r, "id"), text(r, "conversation"), messages, text(r, "reply"), detected, rules,
                r.where());
    }

    private static Feedback feedback(LogRecord r) {
        JsonNode v = r.value();
        Satisfaction label;
        try {
            label = label(v.get("rating"));
        } catch (IllegalArgumentException e) {
            throw r.bad("rating", e.getMessage());
        }
        String response = v.path("response_id").isTextual() ? v.get("response_id").asText() : null;
        String comment = v.path("comment").isTextual() ? v.get("comment").asText() : null;
        return new Feedback(response, text(r, "conversation"), label, comment, r.where());
    }

    private static String text(LogRecord r, String field) {
        JsonNode f = r.value().get(field);
        if (f == null || !f.isTextual()) {
            throw r.bad(field, "must be a string");
        }
        return f.asText();
    }

    /**
     * Mines the log: DSAT items, seed pairs and satisfying replies, with counts of conversations, replies, feedback
     * and the user turns each source labelled.
     *
     * @param minRulePrecision a detector label counts only when a rule that fired has at least this precision (0:
     *                         every label the detector logged)
     * @param precisions       each rule's precision measured on the user's own labelled sample, by name, used instead
     *                         of the precision logged with the label; null: as logged
     */
    public static LogFormat.Mining mine(Path folder, OnBadRecord policy, double minRulePrecision,
            Map<String, Double> precisions) throws IOException {
        Read read = read(folder, policy);
        Labelled labelled = label(read, minRulePrecision, precisions);
        DsatMiner.Mined raw = DsatMiner.mine(labelled.conversations());
        // A turn shared by two branches is mined in each: kept once, named by the response it judges.
        Map<String, DsatItem> items = new LinkedHashMap<>();
        Map<String, Integer> perReply = new HashMap<>();
        for (DsatItem item : raw.items()) {
            String id = labelled.replyIds().get(item.id());
            String key = id + "\u0000" + item.feedback();
            if (!items.containsKey(key)) {  // a second, different follow-up to the same reply: its own item
                int n = perReply.merge(id, 1, Integer::sum);
                items.put(key, new DsatItem(n == 1 ? id : id + "/" + n, item.prompt(), item.rejected(),
                        item.feedback(), item.source()));
            }
        }
        Map<String, PreferencePair> seeds = new LinkedHashMap<>();
        for (PreferencePair p : raw.seeds()) {
            Map<String, Object> meta = new LinkedHashMap<>(p.metadata());
            String id = labelled.replyIds().get((String) meta.get("id"));
            meta.put("id", id);
            seeds.putIfAbsent(id + "\u0000" + p.chosen() + "\u0000" + meta.get("feedback"),
                    new PreferencePair(p.prompt(), p.chosen(), p.rejected(), p.conversational(), meta));
        }
        Map<String, SatReply> satisfying = new LinkedHashMap<>();
        for (SatReply s : raw.satisfying()) {
            String id = labelled.replyIds().get(s.id());
            satisfying.putIfAbsent(id, new SatReply(id, s.prompt(), s.reply(), s.source()));
        }
        Map<String, Integer> counts = new LinkedHashMap<>(labelled.counts());
        counts.put("DSAT items", items.size());
        counts.put("seed pairs", seeds.size());
        counts.put("satisfying replies", satisfying.size());
        return new LogFormat.Mining(new DsatMiner.Mined(List.copyOf(items.values()), List.copyOf(seeds.values()),
                List.copyOf(satisfying.values()), counts), read.report());
    }

    /** The log's branches as labelled conversations; {@code replyIds} maps "branch#turn" to the judged reply's id. */
    private record Labelled(List<Conversation> conversations, Map<String, String> replyIds,
            Map<String, Integer> counts) {}

    private static Labelled label(Read read, double minRulePrecision, Map<String, Double> precisions) {
        Map<String, List<Reply>> byConversation = new LinkedHashMap<>();
        Map<String, Reply> byId = new HashMap<>();
        for (Reply r : read.replies()) {
            byConversation.computeIfAbsent(r.conversation(), k -> new ArrayList<>()).add(r);
            byId.putIfAbsent(r.id(), r);
        }
        // Explicit feedback, the latest for a reply winning; a conversation's goes to its latest reply logged before.
        Map<String, Feedback> explicit = new HashMap<>();
        int feedbackOnUnknown = 0;
        Map<String, String> latestReply = new HashMap<>();
        for (Record o : read.logged()) {
            if (o instanceof Reply r) {
                latestReply.put(r.conversation(), r.id());
            } else if (o instanceof Feedback f) {
                String target = f.responseId() != null ? f.responseId() : latestReply.get(f.conversation());
                if (target == null || !byId.containsKey(target)) {
                    feedbackOnUnknown++;
                    continue;
                }
                explicit.put(target, f);
            }
        }
        List<Conversation> conversations = new ArrayList<>();
        Map<String, String> replyIds = new HashMap<>();
        Set<String> seenTurns = new HashSet<>();
        int paths = 0, explicitDsat = 0, explicitSat = 0, detectedDsat = 0, detectedSat = 0, userTurns = 0;
        for (var entry : byConversation.entrySet()) {
            List<Reply> replies = entry.getValue();
            // A reply whose messages-and-reply begin a later request's messages is not where its branch ends.
            // Each reply's path (its request's messages, then the reply) hashed once: keys[n] is the request's key,
            // keys[n + 1] the path's, and the keys below them its strict prefixes.
            Set<String> continued = new HashSet<>();
            Map<String, Reply> byPath = new HashMap<>(), byRequest = new HashMap<>();
            Map<Reply, String[]> pathKeys = new java.util.IdentityHashMap<>();
            for (Reply r : replies) {
                String[] keys = MessagePath.prefixKeys(withReply(r));
                pathKeys.put(r, keys);
                int n = r.messages().size();
                for (int k = 1; k < n; k++) {
                    continued.add(keys[k]);
                }
                byRequest.putIfAbsent(keys[n], r);
                byPath.putIfAbsent(keys[n + 1], r);
            }
            for (Reply leaf : replies) {
                List<ChatMessage> path = withReply(leaf);
                String[] keys = pathKeys.get(leaf);
                if (continued.contains(keys[keys.length - 1])) {
                    continue;
                }
                String branch = entry.getKey() + "@" + leaf.id();
                paths++;
                List<Turn> turns = new ArrayList<>();
                for (int i = 0; i < path.size(); i++) {
                    ChatMessage m = path.get(i);
                    Turn.Role role = switch (m.role()) {
                        case "system" -> Turn.Role.SYSTEM;
                        case "assistant" -> Turn.Role.ASSISTANT;
                        default -> Turn.Role.USER;  // user, and a tool's output, which answers the reply too
                    };
                    Satisfaction label = Satisfaction.NEUTRAL;
                    if (role == Turn.Role.USER && i >= 1 && path.get(i - 1).role().equals("assistant")) {
                        Reply judged = byPath.get(keys[i]);
                        Feedback f = judged == null ? null : explicit.get(judged.id());
                        Reply arrived = byRequest.get(keys[i + 1]);
                        boolean fresh = seenTurns.add(keys[i + 1]);
                        // Named by the response it judges; a reply no record produced (a client that brought its
                        // history, a log begun mid-conversation) by the request the turn arrived in, and its place.
                        replyIds.put(branch + "#" + i, judged != null ? judged.id()
                                : (arrived != null ? arrived.id() : leaf.id()) + "#" + i);
                        if (f != null) {
                            label = f.label();
                            explicitDsat += fresh && label == Satisfaction.DSAT ? 1 : 0;
                            explicitSat += fresh && label == Satisfaction.SAT ? 1 : 0;
                        } else if (arrived != null) {
                            label = trusted(arrived, minRulePrecision, precisions);
                            detectedDsat += fresh && label == Satisfaction.DSAT ? 1 : 0;
                            detectedSat += fresh && label == Satisfaction.SAT ? 1 : 0;
                        }
                        userTurns += fresh ? 1 : 0;
                    } else if (role == Turn.Role.USER) {
                        userTurns += seenTurns.add(keys[i + 1]) ? 1 : 0;
                    }
                    turns.add(new Turn(role, m.content(), label));
                }
                Feedback last = explicit.get(leaf.id());
                if (last != null && last.label() != Satisfaction.NEUTRAL) {  // the rating is the user's next turn
                    String said = last.comment() != null && !last.comment().isBlank() ? last.comment()
                            : last.label() == Satisfaction.DSAT ? UNCOMMENTED_DSAT : UNCOMMENTED_SAT;
                    turns.add(Turn.user(said, last.label()));
                    replyIds.put(branch + "#" + path.size(), leaf.id());
                    userTurns++;
                    explicitDsat += last.label() == Satisfaction.DSAT ? 1 : 0;
                    explicitSat += last.label() == Satisfaction.SAT ? 1 : 0;
                }
                conversations.add(new Conversation(branch, turns, leaf.where()));
            }
        }
        Map<String, Integer> counts = new LinkedHashMap<>();
        counts.put("conversations", byConversation.size());
        counts.put("branches", paths);
        counts.put("replies", read.replies().size());
        counts.put("feedback records", read.feedback().size());
        counts.put("feedback on no logged reply", feedbackOnUnknown);
        counts.put("user turns", userTurns);
        counts.put("DSAT", explicitDsat + detectedDsat);
        counts.put("SAT", explicitSat + detectedSat);
        counts.put("DSAT turns (explicit)", explicitDsat);
        counts.put("DSAT turns (detector)", detectedDsat);
        counts.put("SAT turns (explicit)", explicitSat);
        counts.put("SAT turns (detector)", detectedSat);
        return new Labelled(conversations, replyIds, counts);
    }

    /** The detector's label when a rule behind it is at least {@code min} precise (unmeasured rules only at 0). */
    static Satisfaction trusted(Reply r, double min, Map<String, Double> precisions) {
        if (r.detected() == Satisfaction.NEUTRAL || min <= 0) {
            return r.detected();
        }
        for (RuleHit h : r.rules()) {
            double p = precisions == null ? h.precision() : precisions.getOrDefault(h.rule(), Double.NaN);
            if (!Double.isNaN(p) && p >= min) {
                return r.detected();
            }
        }
        return Satisfaction.NEUTRAL;
    }

    private static List<ChatMessage> withReply(Reply r) {
        List<ChatMessage> path = new ArrayList<>(r.messages());
        path.add(ChatMessage.assistant(r.reply()));
        return path;
    }
}
