package org.driftml.quickstart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.driftml.cli.Drift;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.serve.ChatServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The loop end to end over HTTP: the quickstart's base policy served with a log and watching a run; its simulated
 * users converse through the API, complain, thank and rate; {@code drift mine --logs} and {@code drift train} one
 * DRIFT iteration; the server moves to the new stage by itself and answers the next request with it.
 */
class ServedLoopTest {
    private static final Pattern COUNT = Pattern.compile("^(.+?)\\s+(\\d+)$", Pattern.MULTILINE);

    private static String drift(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cli = Drift.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        assertEquals(0, code, String.join(" ", args) + "\n" + out + err);
        return out.toString();
    }

    @Test
    void servedUsersFeedbackTrainsTheStageTheServerMovesTo(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        // The quickstart's base policy, fine-tuned on fewer demonstrations than drift quickstart's to keep this short.
        Quickstart.Settings settings = new Quickstart.Settings(WorldModel.Size.DEFAULT, 600, 3, 3e-3, 0, 0,
                List.of(1L), 1, 2e-5, 8, 8, 0);
        Path base = new Quickstart(settings, dir.resolve("quickstart"), new PrintStream(progress, true)).baseModel();
        Path log = dir.resolve("log"), run = dir.resolve("run"), mined = dir.resolve("mined");
        List<String> said = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (ChatServer server = ChatServer.listen(new ChatServer.Options("127.0.0.1", 0, null, 1 << 20, 64,
                Duration.ofSeconds(120)), 64)) {
            server.keepLog(log, 1 << 20);
            server.load("quickstart", base, null, null, new ChatServer.Loading(Precision.FP32, ComputeDevice.CPU, 8,
                    1024, 64));
            server.watch(run, Duration.ofMillis(300), said::add);
            String url = "http://127.0.0.1:" + server.port();

            ServedDeployment.Counts users = new ServedDeployment(url, "quickstart", 8, 0.3).run(150, 8, 7);
            assertTrue(users.complaints() > 0 && users.thumbsDown() > 0, users.toString());

            String mining = drift("mine", "--logs", log.toString(), "--output", mined.toString());
            Map<String, Integer> counts = new java.util.LinkedHashMap<>();
            Matcher m = COUNT.matcher(mining);
            while (m.find()) {
                counts.put(m.group(1).strip(), Integer.parseInt(m.group(2)));
            }
            assertEquals(150, counts.get("conversations"), mining);
            assertEquals(users.requests(), counts.get("replies"), mining);
            assertEquals(users.thumbsDown() + users.thumbsUp(), counts.get("feedback records"), mining);
            assertTrue(counts.get("DSAT turns (explicit)") > 0, mining);
            assertTrue(counts.get("DSAT turns (detector)") > 0, mining);
            assertTrue(counts.get("DSAT items") > 0, mining);

            drift("train", "--model", base.toString(), "--data", mined.toString(), "--output", run.toString(),
                    "--method", "drift", "--iterations", "1", "--no-warm-start", "--dtype", "float32",
                    "--max-new-tokens", "8", "--batch-size", "8", "--learning-rate", "2e-5", "--prompt-style",
                    "chat", "--max-prompt-length", "256", "--max-length", "266", "--seed", "1");
            assertTrue(Files.isRegularFile(run.resolve("iteration-1/summary.json")));

            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!server.serving().endsWith("(iteration-1)") && System.nanoTime() < until) {
                Thread.sleep(100);
            }
            assertTrue(server.serving().endsWith("(iteration-1)"), server.serving() + " " + said);
            HttpResponse<String> next = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url
                    + "/v1/chat/completions")).header("Content-Type", "application/json").POST(
                    HttpRequest.BodyPublishers.ofString("{\"model\": \"quickstart\", \"max_tokens\": 8, \"messages\":"
                            + " [{\"role\": \"user\", \"content\": \"Give a word that starts with b.\"}]}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, next.statusCode(), next.body());
        }
        List<String> lines = new ArrayList<>();
        try (var files = Files.list(log)) {
            for (Path f : files.filter(p -> p.getFileName().toString().startsWith("conversations-")).sorted()
                    .toList()) {
                lines.addAll(Files.readAllLines(f));
            }
        }
        JsonNode last = new ObjectMapper().readTree(lines.get(lines.size() - 1));
        assertEquals("iteration-1", last.at("/model/stage").asText(), "the next request was answered by the new stage");
        assertEquals(run.resolve("iteration-1").toAbsolutePath().normalize().toString(),
                last.at("/model/folder").asText());
    }
}
