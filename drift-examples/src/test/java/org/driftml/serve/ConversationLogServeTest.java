package org.driftml.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.driftml.data.ConversationLog;
import org.driftml.data.OnBadRecord;
import org.driftml.data.ServedLogs;
import org.driftml.data.Satisfaction;
import org.driftml.text.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** drift serve --log-dir: each completed response and each feedback in the log, conversations joined, labelled. */
class ConversationLogServeTest {
    private static JsonNode json(HttpResponse<String> r) throws Exception {
        return ChatServer.JSON.readTree(r.body());
    }

    @Test
    void aStatelessClientsGrowingMessagesAreOneConversationAndFeedbackIsKept(@TempDir Path dir) throws Exception {
        Path logDir = dir.resolve("log");
        try (ChatServer server = ServeTestSupport.serveLogged(logDir, 4)) {
            HttpResponse<String> first = ServeTestSupport.send(server, "/v1/chat/completions",
                    ServeTestSupport.conversation("\"temperature\": 0, \"max_tokens\": 8", "user", "What is 2+2?"));
            assertEquals(200, first.statusCode(), first.body());
            String conversation = first.headers().firstValue(ConversationRecorder.HEADER).orElseThrow();
            String r1 = json(first).get("id").asText();
            String a1 = json(first).at("/choices/0/message/content").asText();
            // The client resends the conversation with the reply and its complaint, streamed this time.
            HttpResponse<String> second = ServeTestSupport.send(server, "/v1/chat/completions",
                    ServeTestSupport.conversation("\"temperature\": 0, \"max_tokens\": 8, \"stream\": true", "user",
                            "What is 2+2?", "assistant", a1, "user", "That's wrong, it is 4."));
            assertEquals(200, second.statusCode(), second.body());
            assertEquals(conversation, second.headers().firstValue(ConversationRecorder.HEADER).orElseThrow());
            List<String> events = new ServeTestSupport.Answer(200, second.body()).events();
            String r2 = ChatServer.JSON.readTree(events.get(0)).get("id").asText();
            StringBuilder streamed = new StringBuilder();
            for (String e : events.subList(0, events.size() - 1)) {
                streamed.append(ChatServer.JSON.readTree(e).at("/choices/0/delta/content").asText(""));
            }
            // Another client names its conversation; one more gives none and starts its own.
            HttpResponse<String> named = ServeTestSupport.send(server, "/v1/chat/completions",
                    ServeTestSupport.conversation("\"temperature\": 0, \"max_tokens\": 4", "user", "hello"),
                    ConversationRecorder.HEADER, "mine-7");
            assertEquals("mine-7", named.headers().firstValue(ConversationRecorder.HEADER).orElseThrow());
            HttpResponse<String> fresh = ServeTestSupport.send(server, "/v1/chat/completions",
                    ServeTestSupport.conversation("\"temperature\": 0, \"max_tokens\": 4", "user", "What is 2+2?"));
            assertNotEquals(conversation, fresh.headers().firstValue(ConversationRecorder.HEADER).orElseThrow());

            HttpResponse<String> fb = ServeTestSupport.send(server, "/v1/feedback", "{\"response_id\": \"" + r2
                    + "\", \"rating\": \"down\", \"comment\": \"still not 4\"}");
            assertEquals(200, fb.statusCode(), fb.body());
            assertEquals("feedback", json(fb).get("object").asText());
            HttpResponse<String> whole = ServeTestSupport.send(server, "/v1/feedback",
                    "{\"conversation_id\": \"mine-7\", \"rating\": 4}");
            assertEquals(200, whole.statusCode(), whole.body());
            HttpResponse<String> unknown = ServeTestSupport.send(server, "/v1/feedback",
                    "{\"response_id\": \"chatcmpl-none\", \"rating\": \"up\"}");
            assertEquals(404, unknown.statusCode());
            assertEquals("response_not_found", json(unknown).at("/error/code").asText());
            HttpResponse<String> badRating = ServeTestSupport.send(server, "/v1/feedback",
                    "{\"response_id\": \"" + r1 + "\", \"rating\": 7}");
            assertEquals(400, badRating.statusCode());
            assertEquals("rating", json(badRating).at("/error/param").asText());

            ServedLogs.Read read = ServedLogs.read(logDir, OnBadRecord.FAIL);
            assertEquals(4, read.replies().size());
            assertEquals(2, read.feedback().size());
            ServedLogs.Reply one = read.replies().get(0), two = read.replies().get(1);
            assertEquals(r1, one.id());
            assertEquals(a1, one.reply());
            assertEquals(List.of(ChatMessage.user("What is 2+2?")), one.messages());
            assertEquals(Satisfaction.NEUTRAL, one.detected(), "the first turn judges no reply");
            assertEquals(r2, two.id());
            assertEquals(conversation, two.conversation());
            assertEquals(streamed.toString(), two.reply(), "the log holds what the client was sent");
            assertEquals(Satisfaction.DSAT, two.detected());
            assertTrue(two.rules().stream().anyMatch(h -> h.rule().equals("aware-says-wrong")
                    && h.precision() == 1.0), "the rule and its held-out precision (3 of 3): " + two.rules());
            assertEquals("mine-7", read.replies().get(2).conversation());
            assertEquals(r2, read.feedback().get(0).responseId());
            assertEquals(Satisfaction.DSAT, read.feedback().get(0).label());
            assertNull(read.feedback().get(1).responseId());
            assertEquals(Satisfaction.SAT, read.feedback().get(1).label());
            JsonNode record = ChatServer.JSON.readTree(Files.readAllLines(
                    Files.list(logDir).filter(f -> f.getFileName().toString().startsWith("conversations-"))
                            .findFirst().orElseThrow()).get(1));
            assertEquals(ServeTestSupport.MODEL, record.at("/model/name").asText());
            assertTrue(record.at("/model/folder").asText().contains("drift-serve-long"), record.toString());
            assertTrue(record.at("/settings/greedy").asBoolean());
            assertEquals(8, record.at("/settings/max_tokens").asInt());
        }
        assertTrue(ConversationLog.isLog(logDir));
    }

    @Test
    void withoutALogFeedbackIsNotFound() throws Exception {
        try (ChatServer server = ServeTestSupport.serve(1, 4, null)) {
            HttpResponse<String> fb = ServeTestSupport.send(server, "/v1/feedback",
                    "{\"response_id\": \"x\", \"rating\": \"down\"}");
            assertEquals(404, fb.statusCode());
            assertTrue(json(fb).at("/error/message").asText().contains("--log-dir"), fb.body());
            assertNull(server.logFolder());
        }
    }
}
