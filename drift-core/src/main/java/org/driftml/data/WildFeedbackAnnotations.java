package org.driftml.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * WildFeedback's {@code sat_dsat_annotation} subset: one flat row per utterance with {@code UtterranceId},
 * {@code TurnId}, {@code Role} ({@code User} or {@code Agent}), {@code Content}, {@code Satisfaction} and
 * {@code Disatisfaction} (both misspellings are the dataset's). Rows are grouped into conversations: by a
 * conversation id column when the file has one ({@code ConversationId}, {@code conversation_id} or
 * {@code conv_id}), otherwise a conversation starts wherever {@code UtterranceId} does not increase.
 *
 * <p>The two flags are read leniently, as the subset's exports differ: booleans, 0/1, "True"/"False", "Yes"/"No",
 * or a label string (a rubric category such as "Gratitude" counts as set; "", "None", "N/A", "[]" do not). A
 * user turn with both flags set is DSAT: something in the reply still needed fixing. Such turns are counted.
 */
public final class WildFeedbackAnnotations {
    private static final List<String> CONVERSATION_ID = List.of("ConversationId", "conversation_id", "conv_id");
    private static final Set<String> UNSET = Set.of("", "false", "0", "no", "none", "n/a", "na", "null", "[]", "nan");

    private WildFeedbackAnnotations() {}

    public record Result(List<Conversation> conversations, ReadReport report) {}

    public static Result read(Path path, OnBadRecord policy) throws IOException {
        ReadReport report = new ReadReport();
        List<Conversation> out = new ArrayList<>();
        Builder current = new Builder();
        LogFiles.read(path, policy, report, record -> {
            report.record();
            Row row;
            try {
                row = Row.of(record);
            } catch (BadRecordException e) {
                report.onBad(e, policy);
                return;
            }
            if (current.startsNew(row)) {
                current.finish(out, report);
                current.start(row, record.where());
            }
            current.add(row);
            if (row.mixed) {
                report.exclude("user turns flagged both satisfied and dissatisfied (read as DSAT)");
            }
        });
        current.finish(out, report);
        return new Result(out, report);
    }

    private record Row(String conversation, long utterance, Turn turn, boolean mixed) {
        static Row of(LogRecord r) {
            JsonNode n = r.value();
            if (!n.isObject()) {
                throw r.bad(null, "expected an object with UtterranceId, Role, Content");
            }
            String conversation = null;
            for (String f : CONVERSATION_ID) {
                if (n.hasNonNull(f)) {
                    conversation = n.get(f).asText();
                    break;
                }
            }
            JsonNode id = n.get("UtterranceId");
            if (id == null || id.isNull()) {
                throw r.bad("UtterranceId", "missing");
            }
            long utterance;
            try {
                if (id.isNumber() && !(id.isIntegralNumber() && id.canConvertToLong())) {
                    // 1.5 read as 1 split a conversation where the ids did not increase.
                    throw new NumberFormatException();
                }
                utterance = id.isNumber() ? id.asLong() : Long.parseLong(id.asText().trim());
            } catch (NumberFormatException e) {
                throw r.bad("UtterranceId", "not an integer: " + id);
            }
            JsonNode roleNode = n.get("Role");
            if (roleNode == null || !roleNode.isTextual()) {
                throw r.bad("Role", "missing or not a string");
            }
            Turn.Role role = switch (roleNode.asText().trim().toLowerCase(Locale.ROOT)) {
                case "user", "human" -> Turn.Role.USER;
                case "agent", "assistant", "gpt", "bot" -> Turn.Role.ASSISTANT;
                case "system" -> Turn.Role.SYSTEM;
                default -> throw r.bad("Role", "expected User or Agent, got \"" + roleNode.asText() + "\"");
            };
            JsonNode content = n.get("Content");
            if (content == null || content.isNull()) {
                throw r.bad("Content", "missing");
            }
            if (!content.isTextual()) {
                throw r.bad("Content", "not a string");
            }
            boolean sat = flag(r, "Satisfaction");
            boolean dsat = flag(r, "Disatisfaction");
            Satisfaction label = role != Turn.Role.USER ? Satisfaction.NEUTRAL
                    : dsat ? Satisfaction.DSAT : sat ? Satisfaction.SAT : Satisfaction.NEUTRAL;
            return new Row(conversation, utterance, new Turn(role, content.asText(), label),
                    role == Turn.Role.USER && sat && dsat);
        }

        private static boolean flag(LogRecord r, String field) {
            JsonNode v = r.value().get(field);
            if (v == null || v.isNull()) {
                return false;
            }
            if (v.isBoolean()) {
                return v.asBoolean();
            }
            if (v.isNumber()) {
                return v.asDouble() != 0 && !Double.isNaN(v.asDouble());
            }
            if (v.isArray()) {
                return !v.isEmpty();
            }
            if (v.isTextual()) {
                return !UNSET.contains(v.asText().trim().toLowerCase(Locale.ROOT));
            }
            throw r.bad(field, "expected a boolean, 0/1 or a label string, got " + v);
        }
    }

    private static final class Builder {
        String conversation;
        long lastUtterance = Long.MIN_VALUE;
        String source;
        final List<Turn> turns = new ArrayList<>();

        boolean startsNew(Row row) {
            if (source == null) {
                return true;
            }
            if (row.conversation != null || conversation != null) {
                return !java.util.Objects.equals(row.conversation, conversation);
            }
            return row.utterance <= lastUtterance;
        }

        void start(Row row, String where) {
            conversation = row.conversation;
            source = where;
            turns.clear();
        }

        void add(Row row) {
            turns.add(row.turn);
            lastUtterance = row.utterance;
        }

        void finish(List<Conversation> out, ReadReport report) {
            if (source == null || turns.isEmpty()) {
                return;
            }
            String id = conversation != null ? conversation : "conversation-" + (out.size() + 1);
            out.add(new Conversation(id, turns, source));
            report.kept(1);
            source = null;
            turns.clear();
        }
    }
}
