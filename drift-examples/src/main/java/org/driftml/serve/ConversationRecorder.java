package org.driftml.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.driftml.data.ConversationLog;
import org.driftml.data.MessagePath;
import org.driftml.data.OnBadRecord;
import org.driftml.data.ServedLogs;
import org.driftml.labelling.DissatisfactionDetector;
import org.driftml.model.Sampler;
import org.driftml.text.ChatMessage;

/**
 * What {@code drift serve --log-dir} keeps of each conversation: a record per completed response (the request's
 * messages, the reply, the stage that answered, the sampling settings and the detector's verdict on the user's
 * latest turn, judged as it arrived) and a record per explicit feedback, in a {@link ConversationLog}.
 *
 * <p>A request joins a conversation by, in order: the {@code X-Conversation-Id} header, the request's {@code user},
 * or its messages: a stateless client resends the whole conversation, so a request whose messages before the new
 * user turn are an earlier request's messages and reply continues that request's conversation. A restarted server
 * reads its log back to keep joining them, and to accept feedback on replies from before the restart.
 */
final class ConversationRecorder implements AutoCloseable {
    /** The request header that names the conversation. */
    static final String HEADER = "X-Conversation-Id";

    private final ConversationLog log;
    private final DissatisfactionDetector detector;
    /** A logged reply's id: its conversation. */
    private final Map<String, String> replies = new ConcurrentHashMap<>();
    /** The key of a logged request's messages and reply: its conversation (what a continuation's prefix matches). */
    private final Map<String, String> paths = new ConcurrentHashMap<>();
    private final java.util.Set<String> conversations = ConcurrentHashMap.newKeySet();

    /** One request on its way: where it belongs and what the detector said of its last user turn. */
    record Turn(String conversation, String from, List<ChatMessage> messages, ObjectNode detector, Instant received) {}

    private ConversationRecorder(ConversationLog log, DissatisfactionDetector detector) {
        this.log = log;
        this.detector = detector;
    }

    /** Opens (or creates) the log folder and reads back what it already holds. */
    static ConversationRecorder open(Path folder, long maxSegmentBytes, DissatisfactionDetector detector)
            throws IOException {
        ConversationLog log = ConversationLog.open(folder, maxSegmentBytes, "drift serve");
        ConversationRecorder recorder = new ConversationRecorder(log, detector);
        try {  // a damaged record is refused (named) before this server adds to the log; a torn tail is not damage
            for (ServedLogs.Reply r : ServedLogs.read(folder, OnBadRecord.FAIL).replies()) {
                recorder.remember(r.id(), r.conversation(), r.messages(), r.reply());
            }
        } catch (IOException | RuntimeException e) {
            log.close();
            throw e;
        }
        return recorder;
    }

    Path folder() {
        return log.folder();
    }

    /** The request's conversation and the detector's verdict on its latest user turn, as it arrives. */
    Turn arrive(ChatRequest request, String header) {
        List<ChatMessage> messages = new ArrayList<>();
        for (Map<String, Object> m : request.messages()) {
            messages.add(new ChatMessage((String) m.get("role"), (String) m.get("content")));
        }
        String conversation, from;
        if (header != null && !header.isBlank()) {
            conversation = header.strip();
            from = "header";
        } else if (request.user() != null && !request.user().isBlank()) {
            conversation = request.user();
            from = "user";
        } else {
            String[] keys = MessagePath.prefixKeys(messages);
            String continued = messages.size() >= 2 ? paths.get(keys[messages.size() - 1]) : null;
            conversation = continued != null ? continued : "conv-" + UUID.randomUUID().toString().replace("-", "");
            from = "messages";
        }
        return new Turn(conversation, from, messages, judge(messages), Instant.now());
    }

    /** The detector on the last message when it is a user's answering a reply; null otherwise. */
    private ObjectNode judge(List<ChatMessage> messages) {
        int last = messages.size() - 1;
        if (!messages.get(last).role().equals("user") || last < 1
                || !messages.get(last - 1).role().equals("assistant")) {
            return null;
        }
        String previousUser = null;
        for (int i = last - 2; i >= 0 && previousUser == null; i--) {
            previousUser = messages.get(i).role().equals("user") ? messages.get(i).content() : null;
        }
        DissatisfactionDetector.Decision d = detector.judge(messages.get(last).content(), previousUser,
                messages.get(last - 1).content());
        ObjectNode node = ChatServer.JSON.createObjectNode();
        node.put("label", d.label().name());
        ArrayNode rules = node.putArray("rules");
        for (String rule : d.firedRules()) {
            ObjectNode hit = rules.addObject().put("rule", rule);
            double p = detector.precision(rule);
            if (Double.isNaN(p)) {
                hit.putNull("precision");
            } else {
                hit.put("precision", p);
            }
        }
        return node;
    }

    /**
     * Writes the completed response's record and returns once it is on disk (the caller sends the reply's last bytes
     * after).
     */
    void replied(Turn turn, String id, String reply, String finishReason, int promptTokens, int completionTokens,
            ServedModel model, Sampler.Settings settings, List<String> stop) throws IOException {
        ObjectNode r = ChatServer.JSON.createObjectNode();
        r.put("type", "reply");
        r.put("id", id);
        r.put("conversation", turn.conversation());
        r.put("conversation_from", turn.from());
        r.put("received", turn.received().toString());
        r.put("answered", Instant.now().toString());
        ObjectNode m = r.putObject("model");
        m.put("name", model.name());
        m.put("folder", model.folder().toString());
        m.put("stage", model.stage());
        ObjectNode s = r.putObject("settings");
        s.put("greedy", settings.greedy());
        s.put("temperature", settings.temperature());
        s.put("top_p", settings.topP());
        s.put("top_k", settings.topK());
        s.put("repetition_penalty", settings.repetitionPenalty());
        s.put("max_tokens", settings.maxNewTokens());
        s.put("seed", settings.seed());
        ArrayNode stops = s.putArray("stop");
        stop.forEach(stops::add);
        ArrayNode messages = r.putArray("messages");
        for (ChatMessage c : turn.messages()) {
            messages.addObject().put("role", c.role()).put("content", c.content());
        }
        r.put("reply", reply);
        r.put("finish_reason", finishReason);
        r.putObject("usage").put("prompt_tokens", promptTokens).put("completion_tokens", completionTokens);
        r.set("detector", turn.detector());
        log.append(r);
        remember(id, turn.conversation(), turn.messages(), reply);
    }

    private void remember(String id, String conversation, List<ChatMessage> messages, String reply) {
        replies.put(id, conversation);
        conversations.add(conversation);
        List<ChatMessage> path = new ArrayList<>(messages);
        path.add(ChatMessage.assistant(reply));
        paths.put(MessagePath.key(path), conversation);
    }

    /**
     * Checks and logs explicit feedback ({@code response_id} or {@code conversation_id}, {@code rating}, optional
     * {@code comment}); returns the stored record once it is on disk.
     */
    ObjectNode feedback(JsonNode body) throws IOException {
        if (body == null || !body.isObject()) {
            throw ApiError.invalid(null, "the body must be a JSON object");
        }
        JsonNode response = body.get("response_id"), conversation = body.get("conversation_id");
        boolean hasResponse = response != null && !response.isNull(), hasConversation = conversation != null
                && !conversation.isNull();
        if (hasResponse == hasConversation) {
            throw ApiError.invalid("response_id", "give response_id (a reply's id) or conversation_id, one of them");
        }
        if (!(hasResponse ? response : conversation).isTextual()) {
            throw ApiError.invalid(hasResponse ? "response_id" : "conversation_id", "must be a string");
        }
        String conversationId;
        if (hasResponse) {
            conversationId = replies.get(response.asText());
            if (conversationId == null) {
                throw new ApiError(404, "invalid_request_error", "response_id", "response_not_found",
                        "no logged reply has the id " + response.asText());
            }
        } else {
            conversationId = conversation.asText();
            if (!conversations.contains(conversationId)) {
                throw new ApiError(404, "invalid_request_error", "conversation_id", "conversation_not_found",
                        "no logged conversation has the id " + conversationId);
            }
        }
        try {
            ServedLogs.label(body.get("rating"));
        } catch (IllegalArgumentException e) {
            throw ApiError.invalid("rating", e.getMessage());
        }
        JsonNode comment = body.get("comment");
        if (comment != null && !comment.isNull() && !comment.isTextual()) {
            throw ApiError.invalid("comment", "comment must be a string");
        }
        ObjectNode r = ChatServer.JSON.createObjectNode();
        r.put("type", "feedback");
        r.put("id", "fb-" + UUID.randomUUID().toString().replace("-", ""));
        if (hasResponse) {
            r.put("response_id", response.asText());
        } else {
            r.putNull("response_id");
        }
        r.put("conversation", conversationId);
        r.set("rating", body.get("rating"));
        if (comment != null && comment.isTextual()) {
            r.put("comment", comment.asText());
        } else {
            r.putNull("comment");
        }
        r.put("received", Instant.now().toString());
        log.append(r);
        return r;
    }

    @Override
    public void close() throws IOException {
        log.close();
    }
}
