package org.driftml.serve;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;

/** A served tiny chat model (drift-core's parity fixture with its byte tokenizer and chat template), and HTTP. */
final class ServeTestSupport {
    static final String KEY = "test-key-0123";
    static final String MODEL = "tiny-chat";
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(30)).build();

    private ServeTestSupport() {}

    static Path modelFolder() {
        return Path.of("../drift-core/src/test/resources/parity/tiny-qwen2-chat").toAbsolutePath().normalize();
    }

    /** The fixture with 128 positions, as drift generate reads it. */
    static ChatServer serve(int maxBatch, int maxQueue, String key) throws IOException {
        return serve(modelFolder(), 128, maxBatch, maxQueue, key, Duration.ofSeconds(120));
    }

    /**
     * The same weights with 4096 positions (rotary positions need no new weights): replies long enough that a test
     * sees them run, a client leave mid-reply, a queue fill.
     */
    static ChatServer serveLong(int maxBatch, int maxQueue, String key) throws IOException {
        return serveLong(maxBatch, maxQueue, key, Duration.ofSeconds(120));
    }

    static ChatServer serveLong(int maxBatch, int maxQueue, String key, Duration timeout) throws IOException {
        Path folder = Files.createTempDirectory("drift-serve-long");
        try (var files = Files.list(modelFolder())) {
            for (Path f : files.toList()) {
                Files.copy(f, folder.resolve(f.getFileName().toString()));
            }
        }
        Path config = folder.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"max_position_embeddings\": 128",
                "\"max_position_embeddings\": 4096"));
        return serve(folder, 4096, maxBatch, maxQueue, key, timeout);
    }

    private static ChatServer serve(Path folder, int capacity, int maxBatch, int maxQueue, String key,
            Duration timeout) throws IOException {
        ChatServer server = ChatServer.listen(new ChatServer.Options("127.0.0.1", 0, key, 64 * 1024, 16, timeout),
                160);
        server.load(MODEL, folder, null, Precision.FP32, ComputeDevice.CPU, maxBatch, capacity, maxQueue);
        return server;
    }

    static String base(ChatServer server) {
        return "http://127.0.0.1:" + server.port();
    }

    record Answer(int status, String body) {
        JsonNode json() throws IOException {
            return ChatServer.JSON.readTree(body);
        }

        /** The data of each server-sent event, in order. */
        List<String> events() {
            List<String> out = new ArrayList<>();
            for (String line : body.split("\n")) {
                if (line.startsWith("data: ")) {
                    out.add(line.substring(6));
                }
            }
            return out;
        }
    }

    static Answer post(ChatServer server, String path, String body, String key) throws IOException,
            InterruptedException {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(base(server) + path))
                .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            r.header("Authorization", "Bearer " + key);
        }
        HttpResponse<String> res = HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
        return new Answer(res.statusCode(), res.body());
    }

    static Answer get(ChatServer server, String path, String key) throws IOException, InterruptedException {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(base(server) + path)).timeout(Duration.ofSeconds(60));
        if (key != null) {
            r.header("Authorization", "Bearer " + key);
        }
        HttpResponse<String> res = HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
        return new Answer(res.statusCode(), res.body());
    }

    /** A chat body: one user message, greedy unless {@code extra} says otherwise. */
    static String chat(String content, String extra) {
        return "{\"model\": \"" + MODEL + "\", \"messages\": [{\"role\": \"user\", \"content\": "
                + ChatServer.JSON.valueToTree(content) + "}]" + (extra.isEmpty() ? "" : ", " + extra) + "}";
    }
}
