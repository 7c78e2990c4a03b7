package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.driftml.data.OnBadRecord;
import org.driftml.data.ServedLogs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * drift serve killed with SIGKILL under 64 concurrent streams, then restarted on the same log: the log holds exactly
 * one record for every response a client saw complete (and no record twice), and every feedback that got a 2xx.
 */
class ServeCrashTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(30)).build();
    private static final Pattern SERVING = Pattern.compile("at http://127\\.0\\.0\\.1:(\\d+)/v1");

    /** A running drift serve and its port (read from what it prints). */
    record Server(Process process, int port, StringBuffer output) {
        String base() {
            return "http://127.0.0.1:" + port;
        }
    }

    static Server start(String... args) throws Exception {
        List<String> command = CliRun.javaCommand("serve", "--port", "0");
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        StringBuffer output = new StringBuffer();
        CountDownLatch ready = new CountDownLatch(1);
        AtomicInteger port = new AtomicInteger();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    output.append(line).append('\n');
                    Matcher m = SERVING.matcher(line);
                    if (m.find()) {
                        port.set(Integer.parseInt(m.group(1)));
                        ready.countDown();
                    }
                }
            } catch (IOException ignored) {  // the process was killed
            }
            ready.countDown();
        });
        reader.setDaemon(true);
        reader.start();
        assertTrue(ready.await(180, TimeUnit.SECONDS) && port.get() > 0, "drift serve did not start: " + output);
        return new Server(p, port.get(), output);
    }

    static HttpResponse<InputStream> chat(Server s, String body) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(s.base() + "/v1/chat/completions"))
                .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
    }

    static HttpResponse<String> post(Server s, String path, String body) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(s.base() + path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Streams one reply; returns its id once {@code [DONE]} arrived, or null when the stream broke first. */
    static String streamToEnd(Server s, int k, int round) {
        String body = "{\"model\": \"tiny-chat\", \"stream\": true, \"max_tokens\": " + (8 + (k * 7 + round) % 40)
                + ", \"temperature\": 1.0, \"seed\": " + (k * 1000 + round) + ", \"messages\": [{\"role\": "
                + "\"user\", \"content\": \"stream " + k + " round " + round + "\"}]}";
        try {
            HttpResponse<InputStream> r = chat(s, body);
            if (r.statusCode() != 200) {
                r.body().close();
                return null;
            }
            String id = null;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.equals("data: [DONE]")) {
                        return id;
                    }
                    if (line.startsWith("data: ") && id == null) {
                        id = JSON.readTree(line.substring(6)).path("id").asText(null);
                    }
                }
            }
            return null;
        } catch (IOException | InterruptedException e) {
            return null;
        }
    }

    @Test
    void killedUnder64StreamsTheLogHoldsEachCompletedResponseOnceAndEveryAcceptedFeedback(@TempDir Path dir)
            throws Exception {
        Path model = org.driftml.serve.ServeTestSupport.longCopy(dir.resolve("tiny-chat"));
        Path log = dir.resolve("log");
        Server first = start("--model", model.toString(), "--log-dir", log.toString(), "--max-batch", "16",
                "--log-max-bytes", "65536");
        Set<String> completed = ConcurrentHashMap.newKeySet();
        Set<String> feedbackAccepted = ConcurrentHashMap.newKeySet();
        AtomicInteger done = new AtomicInteger();
        List<Thread> clients = new ArrayList<>();
        for (int k = 0; k < 64; k++) {
            int client = k;
            Thread t = new Thread(() -> {
                for (int round = 0; first.process().isAlive(); round++) {
                    String id = streamToEnd(first, client, round);
                    if (id == null) {
                        continue;
                    }
                    completed.add(id);
                    done.incrementAndGet();
                    if ((client + round) % 3 == 0) {
                        try {
                            HttpResponse<String> fb = post(first, "/v1/feedback", "{\"response_id\": \"" + id
                                    + "\", \"rating\": " + (1 + (client + round) % 5) + ", \"comment\": \"c" + client
                                    + "\"}");
                            if (fb.statusCode() / 100 == 2) {
                                feedbackAccepted.add(JSON.readTree(fb.body()).get("id").asText());
                            }
                        } catch (IOException | InterruptedException ignored) {  // killed mid-request
                        }
                    }
                }
            });
            t.start();
            clients.add(t);
        }
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
        while (done.get() < 150 && System.nanoTime() < until) {
            Thread.sleep(50);
        }
        first.process().destroyForcibly();  // SIGKILL, mid-stream
        assertTrue(first.process().waitFor(60, TimeUnit.SECONDS));
        for (Thread t : clients) {
            t.join(TimeUnit.SECONDS.toMillis(150));
        }
        assertTrue(completed.size() >= 100, "only " + completed.size() + " responses completed before the kill");

        // Restarted on the same log: it reads the log back (feedback on a reply from before the kill is accepted).
        Server second = start("--model", model.toString(), "--log-dir", log.toString());
        String before = completed.iterator().next();
        HttpResponse<String> late = post(second, "/v1/feedback", "{\"response_id\": \"" + before
                + "\", \"rating\": \"down\"}");
        assertEquals(200, late.statusCode(), late.body());
        feedbackAccepted.add(JSON.readTree(late.body()).get("id").asText());
        second.process().destroy();  // SIGTERM: a clean stop
        assertTrue(second.process().waitFor(60, TimeUnit.SECONDS));

        try (var files = Files.list(log)) {
            assertTrue(files.filter(p -> p.getFileName().toString().startsWith("conversations-")).count() > 2,
                    "64 KiB segments rotate under this many records");
        }
        ServedLogs.Read read = ServedLogs.read(log, OnBadRecord.FAIL);
        Map<String, Integer> times = new HashMap<>();
        read.replies().forEach(r -> times.merge(r.id(), 1, Integer::sum));
        for (String id : completed) {
            assertEquals(1, times.getOrDefault(id, 0), id + " completed at its client: once in the log");
        }
        assertTrue(times.values().stream().allMatch(n -> n == 1), "a reply logged twice");
        Set<String> loggedFeedback = ConcurrentHashMap.newKeySet();
        for (var line : readFeedbackIds(log)) {
            loggedFeedback.add(line);
        }
        assertTrue(loggedFeedback.containsAll(feedbackAccepted), "a 2xx feedback is missing from the log");
        assertTrue(first.output().toString().contains("logging conversations and feedback to " + log),
                first.output().toString());

        // drift mine reads it as it is (rotated, maybe a torn tail) and counts each source.
        CliRun mined = CliRun.of("", "mine", "--logs", log.toString(), "--output", dir.resolve("mined").toString());
        assertEquals(0, mined.code(), mined.err());
        assertTrue(mined.out().contains("DSAT turns (explicit)"), mined.out());
        assertTrue(mined.out().matches("(?s).*conversations +\\d+.*"), mined.out());
    }

    private static List<String> readFeedbackIds(Path log) throws IOException {
        List<String> ids = new ArrayList<>();
        try (var files = Files.list(log)) {
            for (Path f : files.filter(p -> p.getFileName().toString().startsWith("conversations-")).toList()) {
                for (String line : Files.readAllLines(f)) {
                    try {
                        JsonNode n = JSON.readTree(line);
                        if ("feedback".equals(n.path("type").asText())) {
                            ids.add(n.get("id").asText());
                        }
                    } catch (IOException torn) {  // the torn last line of a killed segment
                    }
                }
            }
        }
        return ids;
    }
}
