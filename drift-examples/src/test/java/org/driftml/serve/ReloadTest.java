package org.driftml.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.driftml.data.OnBadRecord;
import org.driftml.data.ServedLogs;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Moving a running server to a new stage: {@code POST /admin/reload} under streams that keep running (each finishes,
 * on the model it began with) and {@code --watch}, which follows a run's finished stages. The log names the stage
 * that answered each reply.
 */
class ReloadTest {
    private static final String ADMIN = "admin-key-42";

    /** A stage folder of a run: the model and the summary a finished stage writes last. */
    private static Path stage(Path run, String name) throws Exception {
        Path folder = ServeTestSupport.longCopy(run.resolve(name));
        Files.writeString(folder.resolve("summary.json"), "{\"stage\": \"" + name + "\"}");
        return folder;
    }

    private static ChatServer serve(Path model, Path log) throws Exception {
        ChatServer server = ChatServer.listen(new ChatServer.Options("127.0.0.1", 0, null, 64 * 1024, 16,
                Duration.ofSeconds(120)), 160);
        server.keepLog(log, 1 << 20);
        server.load(ServeTestSupport.MODEL, model, null, null, new ChatServer.Loading(Precision.FP32,
                ComputeDevice.CPU, 4, 4096, 64));
        return server;
    }

    /** A streamed reply read to its end in the background: its lines; {@code started} counts down at the first. */
    private static CompletableFuture<List<String>> streaming(ChatServer server, int tokens, CountDownLatch started) {
        String body = ServeTestSupport.chat("long " + tokens, "\"temperature\": 0, \"ignore_eos\": true, "
                + "\"stream\": true, \"max_tokens\": " + tokens);
        return CompletableFuture.supplyAsync(() -> {
            try {
                HttpResponse<Stream<String>> r = ServeTestSupport.HTTP.send(HttpRequest.newBuilder(URI.create(
                        ServeTestSupport.base(server) + "/v1/chat/completions")).timeout(Duration.ofSeconds(120))
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(), HttpResponse.BodyHandlers.ofLines());
                List<String> lines = new ArrayList<>();
                r.body().forEach(line -> {
                    if (line.startsWith("data: ")) {
                        lines.add(line.substring(6));
                        started.countDown();
                    }
                });
                return lines;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void aReloadUnderStreamsDropsNoneAndNewRequestsGoToTheNewStage(@TempDir Path dir) throws Exception {
        Path root = dir.resolve("models");
        Path base = ServeTestSupport.longCopy(root.resolve("base"));
        Path next = stage(root.resolve("run"), "iteration-1");
        Path log = dir.resolve("log");
        try (ChatServer server = serve(base, log)) {
            List<String> said = new java.util.concurrent.CopyOnWriteArrayList<>();
            server.allowReloads(ADMIN, root, said::add);
            CountDownLatch started = new CountDownLatch(6);
            List<CompletableFuture<List<String>>> inFlight = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                inFlight.add(streaming(server, 2000 + 300 * i, started));
            }
            assertTrue(started.await(120, TimeUnit.SECONDS));

            assertEquals(401, ServeTestSupport.send(server, "/admin/reload", "{\"model\": \"run/iteration-1\"}")
                    .statusCode());
            HttpResponse<String> outside = ServeTestSupport.send(server, "/admin/reload",
                    "{\"model\": \"../log\"}", "Authorization", "Bearer " + ADMIN);
            assertEquals(400, outside.statusCode(), outside.body());
            assertTrue(outside.body().contains("outside --models-root"), outside.body());
            HttpResponse<String> moved = ServeTestSupport.send(server, "/admin/reload",
                    "{\"model\": \"run/iteration-1\"}", "Authorization", "Bearer " + ADMIN);
            assertEquals(200, moved.statusCode(), moved.body());
            assertEquals("iteration-1", ChatServer.JSON.readTree(moved.body()).at("/to/stage").asText());
            assertTrue(inFlight.stream().anyMatch(f -> !f.isDone()), "the streams were still running at the reload");
            assertEquals(1, said.size(), said.toString());
            assertTrue(said.get(0).startsWith("reloaded: now serving " + next.toRealPath() + " (iteration-1)"),
                    said.toString());

            HttpResponse<String> after = ServeTestSupport.send(server, "/v1/chat/completions",
                    ServeTestSupport.chat("after", "\"temperature\": 0, \"max_tokens\": 4"));
            assertEquals(200, after.statusCode(), after.body());
            for (CompletableFuture<List<String>> f : inFlight) {
                List<String> lines = f.get(180, TimeUnit.SECONDS);
                assertEquals("[DONE]", lines.get(lines.size() - 1), "a stream running through the reload ends");
            }
        }
        ServedLogs.Read read = ServedLogs.read(log, OnBadRecord.FAIL);
        assertEquals(7, read.replies().size());
        List<String> folders = new ArrayList<>();
        for (String line : readLines(log)) {
            var r = ChatServer.JSON.readTree(line);
            folders.add(r.at("/model/stage").isNull() ? "base" : r.at("/model/stage").asText());
        }
        // The one request sent after the reload was answered by iteration-1; those running through it by the base.
        assertEquals(1, folders.stream().filter(s -> s.equals("iteration-1")).count(), folders.toString());
        assertEquals(6, folders.stream().filter(s -> s.equals("base")).count(), folders.toString());
    }

    @Test
    void watchMovesToEachStageTheRunFinishes(@TempDir Path dir) throws Exception {
        Path base = ServeTestSupport.longCopy(dir.resolve("base"));
        Path run = Files.createDirectories(dir.resolve("run"));
        try (ChatServer server = serve(base, dir.resolve("log"))) {
            List<String> said = new java.util.concurrent.CopyOnWriteArrayList<>();
            server.watch(run, Duration.ofMillis(200), said::add);
            Path unfinished = ServeTestSupport.longCopy(run.resolve("iteration-1"));  // no summary.json yet
            Thread.sleep(1000);
            assertTrue(server.serving().startsWith(base.toString()), server.serving());
            Files.writeString(unfinished.resolve("summary.json"), "{}");
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!server.serving().contains("iteration-1") && System.nanoTime() < until) {
                Thread.sleep(100);
            }
            assertTrue(server.serving().endsWith("(iteration-1)"), server.serving() + " " + said);
            HttpResponse<String> r = ServeTestSupport.send(server, "/v1/chat/completions",
                    ServeTestSupport.chat("hi", "\"temperature\": 0, \"max_tokens\": 4"));
            assertEquals(200, r.statusCode(), r.body());
        }
        List<String> lines = readLines(dir.resolve("log"));
        assertEquals("iteration-1", ChatServer.JSON.readTree(lines.get(lines.size() - 1)).at("/model/stage")
                .asText());
    }

    private static List<String> readLines(Path log) throws Exception {
        List<String> out = new ArrayList<>();
        try (var files = Files.list(log)) {
            for (Path f : files.filter(p -> p.getFileName().toString().startsWith("conversations-")).sorted()
                    .toList()) {
                out.addAll(Files.readAllLines(f));
            }
        }
        return out;
    }
}
