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
public final class ServeTestSupport {
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
        return serve(longCopy(), 4096, maxBatch, maxQueue, key, timeout);
    }

    /** The fixture with 4096 positions (as serveLong), logging to {@code log}. */
    static ChatServer serveLogged(Path log, int maxBatch) throws IOException {
        return serve(longCopy(), 4096, maxBatch, 64, null, Duration.ofSeconds(120), log);
    }

    /** A copy of the fixture with 4096 positions, in a new folder (under {@code parent} when given). */
    static Path longCopy() throws IOException {
        return longCopy(Files.createTempDirectory("drift-serve-long"));
    }

    /** The chat fixture with 4096 positions, copied into {@code folder} (the crash test's server reads it too). */
    public static Path longCopy(Path folder) throws IOException {
        Files.createDirectories(folder);
        try (var files = Files.list(modelFolder())) {
            for (Path f : files.toList()) {
                Files.copy(f, folder.resolve(f.getFileName().toString()));
            }
        }
        Path config = folder.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"max_position_embeddings\": 128",
                "\"max_position_embeddings\": 4096"));
        return folder;
    }

    private static ChatServer serve(Path folder, int capacity, int maxBatch, int maxQueue, String key,
            Duration timeout) throws IOException {
        return serve(folder, capacity, maxBatch, maxQueue, key, timeout, null);
    }

    static ChatServer serve(Path folder, int capacity, int maxBatch, int maxQueue, String key,
            Duration timeout, Path log) throws IOException {
        ChatServer server = ChatServer.listen(new ChatServer.Options("127.0.0.1", 0, key, 64 * 1024, 16, timeout),
                160);
        if (log != null) {
            server.keepLog(log, 1 << 20);
        }
        server.load(MODEL, folder, null, null, new ChatServer.Loading(Precision.FP32, ComputeDevice.CPU, maxBatch,
                capacity, maxQueue));
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

    /** A POST with extra headers (name, value, ...). */
    static HttpResponse<String> send(ChatServer server, String path, String body, String... headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(base(server) + path))
                .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) {
            r.header(headers[i], headers[i + 1]);
        }
        return HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A chat body over {@code messages} (role, content, role, content, ...), with {@code extra} fields. */
    static String conversation(String extra, String... messages) {
        StringBuilder list = new StringBuilder();
        for (int i = 0; i < messages.length; i += 2) {
            list.append(i == 0 ? "" : ", ").append("{\"role\": \"").append(messages[i]).append("\", \"content\": ")
                    .append(ChatServer.JSON.valueToTree(messages[i + 1]).toString()).append('}');
        }
        return "{\"model\": \"" + MODEL + "\", \"messages\": [" + list + "]" + (extra.isEmpty() ? "" : ", " + extra)
                + "}";
    }

    /** A chat body: one user message, greedy unless {@code extra} says otherwise. */
    static String chat(String content, String extra) {
        return "{\"model\": \"" + MODEL + "\", \"messages\": [{\"role\": \"user\", \"content\": "
                + ChatServer.JSON.valueToTree(content) + "}]" + (extra.isEmpty() ? "" : ", " + extra) + "}";
    }
}
