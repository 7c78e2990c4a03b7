package org.driftml.serve;

import static org.driftml.serve.ServeTestSupport.KEY;
import static org.driftml.serve.ServeTestSupport.chat;
import static org.driftml.serve.ServeTestSupport.get;
import static org.driftml.serve.ServeTestSupport.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** drift serve over HTTP: OpenAI's response and error shapes, streaming, limits, load and departing clients. */
class ChatServerTest {
    private static ChatServer server;

    @BeforeAll
    static void serve() throws Exception {
        server = ServeTestSupport.serveLong(8, 128, KEY);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static void assertError(ServeTestSupport.Answer a, int status, String param, String code)
            throws Exception {
        assertEquals(status, a.status(), a.body());
        JsonNode error = a.json().get("error");
        assertTrue(error.get("message").asText().length() > 5, a.body());
        assertTrue(error.has("type") && error.has("param") && error.has("code"), a.body());
        assertEquals(param, error.get("param").isNull() ? null : error.get("param").asText(), a.body());
        assertEquals(code, error.get("code").isNull() ? null : error.get("code").asText(), a.body());
    }

    @Test
    void eachBadInputGetsItsStatusAndOpenAisErrorBody() throws Exception {
        String path = "/v1/chat/completions";
        assertError(post(server, path, "{\"model\": ", KEY), 400, null, null);
        assertError(post(server, path, "[1, 2]", KEY), 400, null, null);
        assertError(post(server, path, "{\"model\": \"tiny-chat\"}", KEY), 400, "messages", null);
        assertError(post(server, path, chat("hi", "\"temperature\": 7"), KEY), 400, "temperature", null);
        assertError(post(server, path, chat("hi", "\"max_tokens\": 0"), KEY), 400, "max_tokens", null);
        assertError(post(server, path, chat("hi", "\"n\": 2"), KEY), 400, "n", null);
        assertError(post(server, path, chat("hi", "\"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]"), KEY), 400, "stop",
                null);
        assertError(post(server, path, chat("hi", "\"stream_options\": {\"include_usage\": true}"), KEY), 400,
                "stream_options", null);
        assertError(post(server, path, "{\"model\": \"tiny-chat\", \"messages\": [{\"role\": \"robot\", "
                + "\"content\": \"x\"}]}", KEY), 400, "messages[0].role", null);
        assertError(post(server, path, "{\"model\": \"tiny-chat\", \"messages\": [{\"role\": \"user\", \"content\":"
                + " [{\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}}]}]}", KEY), 400,
                "messages[0].content[0]", null);
        assertError(post(server, path, chat("hi", "\"tools\": [{\"type\": \"function\"}]"), KEY), 400, "tools", null);
        assertError(post(server, path, chat("hi", ""), null), 401, null, "invalid_api_key");
        assertError(post(server, path, chat("hi", ""), "nearly-" + KEY), 401, null, "invalid_api_key");
        assertError(get(server, "/v1/models", null), 401, null, "invalid_api_key");
        assertError(post(server, path, chat("hi", "").replace("tiny-chat", "gpt-4o"), KEY), 404, "model",
                "model_not_found");
        // 4096 positions (a token per byte here): a long prompt, or a reply that cannot fit after a short one.
        assertError(post(server, path, chat("x".repeat(5000), ""), KEY), 400, "messages", "context_length_exceeded");
        assertError(post(server, path, chat("hi", "\"max_tokens\": 4090"), KEY), 400, "messages",
                "context_length_exceeded");
        String many = "{\"model\": \"tiny-chat\", \"messages\": ["
                + "{\"role\": \"user\", \"content\": \"a\"},".repeat(17) + "{\"role\": \"user\", \"content\": \"b\"}]}";
        assertError(post(server, path, many, KEY), 400, "messages", null);
        assertError(post(server, path, chat("y".repeat(70_000), ""), KEY), 413, null, "request_too_large");
        // A good request afterwards: refusals leave nothing behind.
        ServeTestSupport.Answer ok = post(server, path, chat("hi", "\"max_tokens\": 4"), KEY);
        assertEquals(200, ok.status(), ok.body());
        assertEquals("chat.completion", ok.json().get("object").asText());
        assertEquals(4, ok.json().at("/usage/completion_tokens").asInt());
        assertEquals("length", ok.json().at("/choices/0/finish_reason").asText());
    }

    @Test
    void aStopStringEndsTheReplyBeforeIt() throws Exception {
        String path = "/v1/chat/completions";
        String whole = post(server, path, chat("stop test", "\"max_tokens\": 40, \"ignore_eos\": true"), KEY).json()
                .at("/choices/0/message/content").asText();
        String stop = whole.substring(6, 8);
        String before = whole.substring(0, whole.indexOf(stop));
        JsonNode cut = post(server, path, chat("stop test", "\"max_tokens\": 40, \"ignore_eos\": true, \"stop\": "
                + ChatServer.JSON.valueToTree(stop)), KEY).json();
        assertEquals(before, cut.at("/choices/0/message/content").asText());
        assertEquals("stop", cut.at("/choices/0/finish_reason").asText());
        // Streamed: the same text, and no piece of the stop string ever sent.
        ServeTestSupport.Answer streamed = post(server, path, chat("stop test", "\"max_tokens\": 40, \"ignore_eos\": "
                + "true, \"stream\": true, \"stop\": " + ChatServer.JSON.valueToTree(stop)), KEY);
        StringBuilder text = new StringBuilder();
        for (String data : streamed.events()) {
            if (!data.equals("[DONE]")) {
                ChatServer.JSON.readTree(data).at("/choices/0/delta/content").asText("");
                text.append(ChatServer.JSON.readTree(data).at("/choices/0/delta/content").asText(""));
            }
        }
        assertEquals(before, text.toString());
    }

    /** 64 streaming clients at once on 8 slots: every one gets a whole stream, ending in its finish and [DONE]. */
    @Test
    void sixtyFourConcurrentStreamsAllComplete() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(64);
        try {
            List<Future<ServeTestSupport.Answer>> answers = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                String body = chat("client " + i, "\"max_tokens\": " + (8 + i % 24) + ", \"ignore_eos\": true, "
                        + "\"stream\": true, \"stream_options\": {\"include_usage\": true}");
                answers.add(pool.submit(() -> post(server, "/v1/chat/completions", body, KEY)));
            }
            for (int i = 0; i < 64; i++) {
                ServeTestSupport.Answer a = answers.get(i).get(300, TimeUnit.SECONDS);
                assertEquals(200, a.status(), a.body());
                List<String> events = a.events();
                assertEquals("[DONE]", events.get(events.size() - 1), "client " + i);
                JsonNode usage = ChatServer.JSON.readTree(events.get(events.size() - 2)).get("usage");
                assertEquals(8 + i % 24, usage.get("completion_tokens").asInt(), "client " + i);
                JsonNode last = ChatServer.JSON.readTree(events.get(events.size() - 3));
                assertEquals("length", last.at("/choices/0/finish_reason").asText(), "client " + i);
            }
        } finally {
            pool.shutdownNow();
        }
        String metrics = get(server, "/metrics", null).body();
        assertTrue(metrics.contains("drift_time_to_first_token_seconds_bucket"), metrics);
        assertTrue(metrics.contains("drift_inter_token_latency_seconds_count"), metrics);
        assertTrue(metrics.contains("drift_requests_total{status=\"200\"}"), metrics);
        assertTrue(metrics.contains("drift_batch_occupancy"), metrics);
        assertTrue(metrics.contains("drift_queue_depth"), metrics);
    }

    /**
     * A client that hangs up mid-stream frees its slot: the batcher runs nothing once it has gone, long before the
     * 4000 tokens it asked for were made.
     */
    @Test
    void aClientThatLeavesMidStreamFreesItsSlot() throws Exception {
        double before = metric(server, "drift_generation_tokens_total");
        String body = chat("long one", "\"max_tokens\": 4000, \"ignore_eos\": true, \"stream\": true");
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY
                    + "\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] first = new byte[12];
            assertEquals(12, in.readNBytes(first, 0, 12));
            assertEquals("HTTP/1.1 200", new String(first, StandardCharsets.US_ASCII), "the stream started");
            long waited = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (metric(server, "drift_running_sequences") < 1 && System.nanoTime() < waited) {
                Thread.sleep(5);
            }
            assertEquals(1, metric(server, "drift_running_sequences"), "the reply is being decoded");
        }
        // Slow tokens would keep it running for seconds; after the hang-up it must go within a few.
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        ChatServer s = server;
        while (metric(s, "drift_running_sequences") > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, metric(s, "drift_running_sequences"));
        double made = metric(s, "drift_generation_tokens_total") - before;
        assertTrue(made < 4000, made + " tokens: the reply ran to its end instead of stopping");
    }

    private static double metric(ChatServer s, String name) throws Exception {
        String metrics = get(s, "/metrics", null).body();
        for (String line : metrics.split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.split(" ")[1]);
            }
        }
        throw new AssertionError("no " + name + " in\n" + metrics);
    }

    /** A request still running after --request-timeout is cancelled: 504 whole, an error event streamed. */
    @Test
    void aRequestThatRunsTooLongTimesOut() throws Exception {
        try (ChatServer quick = ServeTestSupport.serveLong(1, 4, null, Duration.ofMillis(100))) {
            String body = chat("slow", "\"max_tokens\": 4000, \"ignore_eos\": true");
            assertError(post(quick, "/v1/chat/completions", body, null), 504, null, "request_timeout");
            ServeTestSupport.Answer streamed = post(quick, "/v1/chat/completions",
                    body.replace("\"ignore_eos\": true", "\"ignore_eos\": true, \"stream\": true"), null);
            List<String> events = streamed.events();
            assertEquals("[DONE]", events.get(events.size() - 1));
            assertEquals("request_timeout", ChatServer.JSON.readTree(events.get(events.size() - 2))
                    .at("/error/code").asText());
        }
    }

    @Test
    void healthModelsAndLoadingAnswerAsDocumented() throws Exception {
        assertEquals(200, get(server, "/health", null).status());
        JsonNode models = get(server, "/v1/models", KEY).json();
        assertEquals("tiny-chat", models.at("/data/0/id").asText());
        assertEquals(4096, models.at("/data/0/max_model_len").asInt());
        try (ChatServer loading = ChatServer.listen(new ChatServer.Options("127.0.0.1", 0, null, 1 << 20, 16,
                Duration.ofSeconds(60)), 16)) {
            assertEquals(503, get(loading, "/health", null).status());
            assertError(post(loading, "/v1/chat/completions", chat("hi", ""), null), 503, null, "model_not_ready");
        }
    }

    /**
     * One slot and a queue of one, and 30 requests at once (each decodes 400 tokens, one after another): those
     * beyond the two the server holds are refused with 429, and every other one is answered.
     */
    @Test
    void aFullQueueAnswers429() throws Exception {
        try (ChatServer small = ServeTestSupport.serveLong(1, 1, null)) {
            ExecutorService pool = Executors.newFixedThreadPool(30);
            try {
                java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
                String body = chat("busy", "\"max_tokens\": 400, \"ignore_eos\": true");
                List<Future<ServeTestSupport.Answer>> answers = new ArrayList<>();
                for (int i = 0; i < 30; i++) {
                    answers.add(pool.submit(() -> {
                        go.await();
                        return post(small, "/v1/chat/completions", body, null);
                    }));
                }
                go.countDown();
                int refused = 0;
                for (Future<ServeTestSupport.Answer> f : answers) {
                    ServeTestSupport.Answer a = f.get(300, TimeUnit.SECONDS);
                    if (a.status() == 429) {
                        assertError(a, 429, null, "rate_limit_exceeded");
                        refused++;
                    } else {
                        assertEquals(200, a.status(), a.body());
                    }
                }
                assertTrue(refused > 0 && refused < 29, refused + " of 30 refused");
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
